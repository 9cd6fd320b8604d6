//! The providers' tokens are kept per identity, sealed at rest.

use latchkey::latchkey_server::storage::entities::provider_token;
use latchkey::latchkey_server::tokens;
use latchkey::latchkey_server::types::TokenStatus;
use sea_orm::EntityTrait;

use crate::on_every_backend;
use crate::support::{Person, TestApp};

on_every_backend!(the_database_holds_no_plaintext_provider_token);

async fn the_database_holds_no_plaintext_provider_token(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let current = app.me(&browser).await;
    let identity_id = current.identities[0].id.as_str();

    let row =
        provider_token::Entity::find_by_id(identity_id.to_string()).one(&app.db).await.expect("query").expect("stored");
    let access_token = tokens::access_token(&app.db, app.latchkey.tokens().cipher(), identity_id)
        .await
        .expect("opens with the app's key")
        .expect("an access token");

    assert!(access_token.len() >= 20, "the provider's real token came back");
    assert!(!row.access_token.contains(&access_token), "only ciphertext is stored");
    let dump = format!("{row:?}");
    assert!(!dump.contains(&access_token), "no column holds the plaintext");
    assert_eq!(row.key_id, app.latchkey.tokens().cipher().current_key_id());
    assert_eq!(row.scopes, "openid email profile");
    assert!(row.expires_at.is_some(), "the expiry is kept");
    assert_eq!(row.status, TokenStatus::Ok);
}

async fn expire_access_token(app: &TestApp) {
    use sea_orm::sea_query::Expr;
    provider_token::Entity::update_many()
        .col_expr(
            provider_token::Column::ExpiresAt,
            Expr::value(Some(chrono::Utc::now() - chrono::TimeDelta::minutes(5))),
        )
        .exec(&app.db)
        .await
        .expect("update");
}

async fn signed_in_identity(app: &TestApp) -> String {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let current = app.me(&browser).await;
    current.identities[0].id.to_string()
}

on_every_backend!(an_expired_access_token_is_refreshed_once_under_20_concurrent_requests);

async fn an_expired_access_token_is_refreshed_once_under_20_concurrent_requests(app: TestApp) {
    let identity_id = signed_in_identity(&app).await;
    let before = app.latchkey.tokens().access_token(&identity_id).await.expect("a valid token");
    let refresh_before = provider_token::Entity::find_by_id(identity_id.clone())
        .one(&app.db)
        .await
        .expect("query")
        .expect("row")
        .refresh_token;
    expire_access_token(&app).await;

    let calls: Vec<_> = (0..20)
        .map(|_| {
            let latchkey = app.latchkey.clone();
            let id = identity_id.clone();
            tokio::spawn(async move { latchkey.tokens().access_token(&id).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.expect("the task ran").expect("a valid token"));
    }

    assert_eq!(app.dev_idp().refresh_count(), 1, "one refresh for 20 callers");
    assert!(tokens.iter().all(|t| t == &tokens[0]), "everyone got the refreshed token");
    assert_ne!(tokens[0], before, "a new access token");
    let row = provider_token::Entity::find_by_id(identity_id).one(&app.db).await.expect("query").expect("row");
    assert_ne!(row.refresh_token, refresh_before, "the rotated refresh token was stored");
    assert!(row.expires_at.is_some_and(|at| at > chrono::Utc::now()));
    assert_eq!(row.refresh_lock_until, None, "the lease was released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_the_provider_rejects_marks_the_identity_reconnect_needed() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let identity_id = signed_in_identity(&app).await;
    expire_access_token(&app).await;
    app.misbehave(latchkey::latchkey_dev_idp::Misbehaviour::RefreshRejected);

    let outcome = app.latchkey.tokens().access_token(&identity_id).await;

    assert!(matches!(outcome, Err(tokens::TokenError::ReconnectNeeded)), "{outcome:?}");
    let row = provider_token::Entity::find_by_id(identity_id.clone()).one(&app.db).await.expect("query").expect("row");
    assert_eq!(row.status, TokenStatus::ReconnectNeeded);
    // It stays that way (no refresh storm) until the person signs in with the provider again.
    app.misbehave(latchkey::latchkey_dev_idp::Misbehaviour::None);
    assert!(matches!(app.latchkey.tokens().access_token(&identity_id).await, Err(tokens::TokenError::ReconnectNeeded)));
    assert_eq!(app.dev_idp().refresh_count(), 0);
    app.browser().sign_in_as(&Person::ada()).await;
    assert!(app.latchkey.tokens().access_token(&identity_id).await.is_ok(), "a new sign-in reconnects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_profile_reads_the_provider_api_with_the_stored_token() {
    use latchkey::latchkey_server::storage::entities::identity;
    use sea_orm::sea_query::Expr;
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let current = app.me(&browser).await;
    let identity_id = current.identities[0].id.clone();
    assert_eq!(current.identities[0].token_status, Some(TokenStatus::Ok));
    identity::Entity::update_many()
        .col_expr(identity::Column::Name, Expr::value(Some("Stale name".to_string())))
        .exec(&app.db)
        .await
        .expect("update");
    expire_access_token(&app).await;

    let response = browser.submit("refresh_identity_profile", &[("identity", identity_id.as_str())]).await;

    assert_eq!(crate::support::location(&response).query(), Some("done=refreshed"));
    let stored = identity::Entity::find_by_id(identity_id).one(&app.db).await.expect("query").expect("row");
    assert_eq!(stored.name.as_deref(), Some("Ada Lovelace"), "read again from userinfo");
    assert_eq!(app.dev_idp().refresh_count(), 1, "the expired token was refreshed first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_says_reconnect_needed_when_the_provider_refuses_the_refresh() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let identity_id = app.me(&browser).await.identities[0].id.clone();
    expire_access_token(&app).await;
    app.misbehave(latchkey::latchkey_dev_idp::Misbehaviour::RefreshRejected);

    let response = browser.submit("refresh_identity_profile", &[("identity", identity_id.as_str())]).await;

    assert!(browser.page_after(response).await.contains("Sign in with Dev provider again to reconnect"));
    let current = app.me(&browser).await;
    assert_eq!(current.identities[0].token_status, Some(TokenStatus::ReconnectNeeded));
    let page = browser.get("/accounts").await.text().await.expect("html");
    assert!(page.contains("Reconnect needed"), "the linked-accounts page says so: {page}");
    assert!(page.contains("Sign in with Dev provider again to reconnect."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinking_and_deleting_revoke_the_tokens_at_the_provider() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_with("dev", &Person::ada()).await;
    browser.link("dev2", &Person::new("Ada at work", "ada@work.example")).await;
    let (dev, dev2) = (&app.dev_idps[0], &app.dev_idps[1]);
    let current = app.me(&browser).await;
    let linked = current.identities.iter().find(|i| i.provider == "dev2").expect("linked").id.clone();

    browser.submit("unlink_identity", &[("identity", linked.as_str())]).await;

    assert_eq!(dev2.revocation_count(), 1, "the unlinked identity's grant was revoked");
    assert_eq!(dev.revocation_count(), 0);
    assert_eq!(provider_token::Entity::find().all(&app.db).await.expect("q").len(), 1);

    // Linking renewed this browser's session with the linked identity, so unlinking it ended
    // the session: sign in again to delete.
    browser.sign_in_with("dev", &Person::ada()).await;
    browser.submit("delete_account", &[("confirm", "yes")]).await;

    assert_eq!(dev.revocation_count(), 1, "deleting the account revokes the rest");
    assert!(provider_token::Entity::find().all(&app.db).await.expect("q").is_empty());
}

on_every_backend!(two_servers_refresh_an_expired_token_once_between_them);

/// Two instances share the database (as behind a load balancer); only the lease in the
/// database keeps them from both spending the rotating refresh token.
async fn two_servers_refresh_an_expired_token_once_between_them(app: TestApp) {
    let identity_id = signed_in_identity(&app).await;
    let other = app.second_instance().await;
    expire_access_token(&app).await;

    let calls: Vec<_> = (0..10)
        .map(|n| {
            let server = if n % 2 == 0 { app.latchkey.clone() } else { other.clone() };
            let id = identity_id.clone();
            tokio::spawn(async move { server.tokens().access_token(&id).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.expect("the task finishes").expect("a valid access token"));
    }

    assert_eq!(app.dev_idp().refresh_count(), 1, "one refresh for both servers");
    assert!(tokens.windows(2).all(|pair| pair[0] == pair[1]), "every caller got the refreshed token");
}

/// Two sign-ins of one identity storing its tokens at the same moment: on PostgreSQL the second
/// waits for the first's row, and must then replace it rather than fail on the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storing_tokens_twice_at_once_replaces_the_row_and_fails_neither() {
    use latchkey::latchkey_server::config::Secret;
    use latchkey::latchkey_server::provider::ProviderTokens;

    let Some(app) = TestApp::try_spawn(crate::support::Backend::Postgres, Default::default()).await else {
        return crate::support::skip_postgres("provider_tokens::storing_tokens_twice_at_once");
    };
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let identity_id = app.me(&browser).await.identities[0].id.to_string();
    app.execute("DELETE FROM provider_tokens").await;
    let tokens = |access: &str| ProviderTokens {
        access_token: Some(Secret::new(access)),
        scopes: vec!["openid".into()],
        ..Default::default()
    };
    let cipher = app.latchkey.tokens().cipher();

    let first = app.latchkey.db().begin().await.expect("a transaction");
    tokens::store(&first, cipher, &identity_id, &tokens("first")).await.expect("the first stores");
    let second = {
        let (latchkey, identity_id, tokens) = (app.latchkey.clone(), identity_id.clone(), tokens("second"));
        tokio::spawn(async move {
            let txn = latchkey.db().begin().await?;
            tokens::store(&txn, latchkey.tokens().cipher(), &identity_id, &tokens).await?;
            txn.commit().await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    first.commit().await.expect("the first commits");

    second.await.expect("the task ran").expect("the second stores too, replacing the first");
    let opened = tokens::access_token(&app.db, cipher, &identity_id).await.expect("opens");
    assert_eq!(opened.as_deref(), Some("second"), "the later store wins");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_refresh_while_the_provider_is_down_shows_fixed_words_never_the_network_error() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let identity_id = app.me(&browser).await.identities[0].id.clone();
    expire_access_token(&app).await;
    app.misbehave(latchkey::latchkey_dev_idp::Misbehaviour::SlowTokenEndpoint);

    let response = browser.submit("refresh_identity_profile", &[("identity", identity_id.as_str())]).await;

    let page = browser.page_after(response).await;
    assert!(page.contains("Dev provider could not be asked right now. Please try again in a moment."), "{page}");
    for raw in ["timed out", "error sending request", "token endpoint", "operation"] {
        assert!(!page.to_lowercase().contains(raw), "the page shows {raw:?}");
    }
}
