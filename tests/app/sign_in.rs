use reqwest::StatusCode;

use crate::on_every_backend;
use crate::support::{Person, TestApp, location, set_cookies, sha256_hex};

on_every_backend!(
    first_sign_in_creates_one_user_and_one_session,
    signing_in_again_with_the_same_identity_reuses_the_user,
    every_returning_sign_in_stores_the_claims_it_brought,
    different_people_get_different_users,
    two_tabs_signing_in_at_once_both_succeed,
);

async fn first_sign_in_creates_one_user_and_one_session(app: TestApp) {
    let browser = app.browser();
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);

    let response = browser.sign_in_as(&Person::ada()).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).path(), "/profile", "lands on the profile by default");
    assert_eq!(app.users().await, 1);
    assert_eq!(app.identities().await, 1);
    assert_eq!(app.sessions().await, 1);
    let (status, me) = browser.me().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["name"], "Ada Lovelace");
    assert_eq!(me["user"]["email"], "ada@example.test");
    assert_eq!(me["accounts"][0]["provider"], "dev");
    assert_eq!(me["accounts"][0]["email_verified"], true);
    assert!(me["accounts"][0]["subject"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(app.pending_logins().await, 0, "the pending login was consumed");
}

async fn signing_in_again_with_the_same_identity_reuses_the_user(app: TestApp) {
    let first = app.browser();
    first.sign_in_as(&Person::ada()).await;
    let second = app.browser();
    let renamed = Person::new("Ada King", "ada@example.test");

    second.sign_in_as(&renamed).await;

    assert_eq!(app.users().await, 1, "the same (issuer, subject) is the same user");
    assert_eq!(app.identities().await, 1);
    assert_eq!(app.sessions().await, 2, "each browser has its own session");
    let (_, me_first) = first.me().await;
    let (_, me_second) = second.me().await;
    assert_eq!(me_first["user"]["id"], me_second["user"]["id"]);
    assert_eq!(me_second["accounts"][0]["email"], "ada@example.test");
}

async fn every_returning_sign_in_stores_the_claims_it_brought(app: TestApp) {
    use latchkey::latchkey_server::storage::entities::identity;
    use sea_orm::EntityTrait;
    app.browser().sign_in_as(&Person::ada()).await;

    for name in ["Ada King", "Ada, Countess of Lovelace"] {
        app.browser().sign_in_as(&Person::new(name, "ada@example.test")).await;

        let stored = identity::Entity::find().all(&app.db).await.expect("identities");
        assert_eq!(stored.iter().map(|i| i.name.as_deref()).collect::<Vec<_>>(), [Some(name)]);
    }
}

async fn different_people_get_different_users(app: TestApp) {
    let ada = app.browser();
    ada.sign_in_as(&Person::ada()).await;
    let grace = app.browser();
    grace.sign_in_as(&Person::grace()).await;

    assert_eq!(app.users().await, 2);
    assert_ne!(ada.me().await.1["user"]["id"], grace.me().await.1["user"]["id"]);
}

async fn two_tabs_signing_in_at_once_both_succeed(app: TestApp) {
    let browser = app.browser();
    let first_tab = browser.start_sign_in(Some("/first")).await;
    let second_tab = browser.start_sign_in(Some("/second")).await;
    let first_callback = browser.decide_at_provider(&first_tab, &Person::ada(), "allow").await;
    let second_callback = browser.decide_at_provider(&second_tab, &Person::ada(), "allow").await;

    let second = browser.follow(&second_callback).await;
    let first = browser.follow(&first_callback).await;

    assert_eq!(location(&second).path(), "/second");
    assert_eq!(location(&first).path(), "/first");
    assert_eq!(browser.me().await.0, StatusCode::OK);
    assert_eq!(app.users().await, 1);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_lax_and_only_its_hash_is_stored() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();

    let response = browser.sign_in_as(&Person::ada()).await;

    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("latchkey_session="))
        .expect("the callback sets the session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http on loopback cannot use Secure: {cookie}");
    let token = browser.session_cookie().expect("the browser keeps the cookie");
    assert!(token.len() >= 43, "at least 256 bits of randomness");
    use latchkey::latchkey_server::storage::entities::session;
    use sea_orm::EntityTrait;
    let stored = session::Entity::find().one(&app.db).await.expect("query").expect("one session");
    assert_eq!(stored.token_hash, sha256_hex(&token), "the database holds the token's SHA-256");
    assert_ne!(stored.token_hash, token, "never the token itself");
}
