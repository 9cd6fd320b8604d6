//! Rotating `LATCHKEY_SECRET_KEY`: tokens sealed under the previous key keep working, are
//! sealed again under the new one (on use, and by the sweeper), and the old key can then go.

use latchkey::latchkey_server::Latchkey;
use latchkey::latchkey_server::storage::entities::{provider_token, session};
use latchkey::latchkey_server::tokens::{CipherError, TokenError};
use sea_orm::EntityTrait;

use crate::on_every_backend;
use crate::support::{Person, TEST_SECRET_KEY, TestApp};

on_every_backend!(
    after_a_rotation_a_token_sealed_under_the_previous_key_works_and_is_sealed_again_on_use,
    the_sweeper_seals_every_token_under_a_previous_key_again_so_the_old_key_can_go,
);

const NEW_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

async fn rotated(app: &TestApp) -> Latchkey {
    app.instance_with(&[
        ("LATCHKEY_SECRET_KEY", NEW_KEY.to_string()),
        ("LATCHKEY_PREVIOUS_SECRET_KEYS", TEST_SECRET_KEY.to_string()),
    ])
    .await
}

async fn key_ids(app: &TestApp) -> Vec<String> {
    let rows = provider_token::Entity::find().all(&app.db).await.expect("query");
    rows.into_iter().map(|row| row.key_id).collect()
}

async fn after_a_rotation_a_token_sealed_under_the_previous_key_works_and_is_sealed_again_on_use(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let identity = app.me(&browser).await.identities[0].id.to_string();
    let before = app.latchkey.tokens().access_token(&identity).await.expect("the token opens");

    let rotated = rotated(&app).await;
    let after = rotated.tokens().access_token(&identity).await.expect("opens with the previous key");

    assert_eq!(after, before);
    assert_eq!(key_ids(&app).await, [rotated.tokens().cipher().current_key_id().to_string()], "sealed again");
    let new_key_only = app.instance_with(&[("LATCHKEY_SECRET_KEY", NEW_KEY.to_string())]).await;
    assert_eq!(new_key_only.tokens().access_token(&identity).await.expect("opens without the old key"), before);
}

async fn the_sweeper_seals_every_token_under_a_previous_key_again_so_the_old_key_can_go(app: TestApp) {
    for person in [Person::ada(), Person::grace()] {
        app.browser().sign_in_as(&person).await;
    }
    let new_key_only = app.instance_with(&[("LATCHKEY_SECRET_KEY", NEW_KEY.to_string())]).await;
    let identity = provider_token::Entity::find().all(&app.db).await.expect("query")[0].identity_id.clone();
    let unknown = new_key_only.tokens().access_token(&identity).await;
    assert!(matches!(unknown, Err(TokenError::Cipher(CipherError::UnknownKey(_)))), "not yet: {unknown:?}");

    let swept = rotated(&app).await.sweeper().sweep().await.expect("the sweep runs");

    assert_eq!(swept.tokens_resealed, 4, "two people's provider tokens, and their sessions' ID tokens");
    let current = new_key_only.tokens().cipher().current_key_id().to_string();
    assert_eq!(key_ids(&app).await, [current.clone(), current.clone()]);
    let sessions = session::Entity::find().all(&app.db).await.expect("query");
    assert!(sessions.iter().all(|s| s.id_token_key_id.as_deref() == Some(current.as_str())), "{sessions:?}");
    assert!(new_key_only.tokens().access_token(&identity).await.is_ok(), "the old key is no longer needed");
}
