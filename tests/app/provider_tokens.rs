//! The providers' tokens are kept per identity, sealed at rest.

use latchkey::latchkey_server::storage::entities::provider_token;
use latchkey::latchkey_server::tokens;
use sea_orm::EntityTrait;

use crate::on_every_backend;
use crate::support::{Person, TestApp};

on_every_backend!(the_database_holds_no_plaintext_provider_token);

async fn the_database_holds_no_plaintext_provider_token(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let current = app.latchkey.current_user(&browser.cookie_jar()).await.expect("query").expect("signed in");
    let identity_id = &current.identities[0].id;

    let row = provider_token::Entity::find_by_id(identity_id.clone()).one(&app.db).await.expect("query").expect("stored");
    let access_token = tokens::access_token(&app.db, app.latchkey.token_cipher(), identity_id)
        .await
        .expect("opens with the app's key")
        .expect("an access token");

    assert!(access_token.len() >= 20, "the provider's real token came back");
    assert!(!row.access_token.contains(&access_token), "only ciphertext is stored");
    let dump = format!("{row:?}");
    assert!(!dump.contains(&access_token), "no column holds the plaintext");
    assert_eq!(row.key_id, app.latchkey.token_cipher().current_key_id());
    assert_eq!(row.scopes, "openid email profile");
    assert!(row.expires_at.is_some(), "the expiry is kept");
    assert_eq!(row.status, "ok");
}
