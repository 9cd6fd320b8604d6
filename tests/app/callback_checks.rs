//! The callback trusts nothing the browser could have changed: `state` must be this
//! browser's live pending login, used once; provider errors and bad targets are handled.

use reqwest::StatusCode;

use crate::on_every_backend;
use crate::support::{Person, TestApp, location, set_cookies};

on_every_backend!(
    a_callback_without_state_is_rejected,
    a_callback_with_another_browsers_state_is_rejected,
    a_replayed_callback_is_rejected_and_creates_nothing_new,
    an_expired_pending_login_is_rejected,
    denying_consent_at_the_provider_shows_an_error_page_and_signs_nobody_in,
    an_off_site_return_to_is_not_followed,
);

async fn a_callback_without_state_is_rejected(app: TestApp) {
    let browser = app.browser();
    let mut callback = browser.approved_callback(&Person::ada()).await;
    let without_state: Vec<(String, String)> =
        callback.query_pairs().into_owned().filter(|(k, _)| k != "state").collect();
    callback.query_pairs_mut().clear().extend_pairs(without_state);

    let response = browser.follow(&callback).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.expect("a page").contains("This sign-in has expired"));
    app.assert_nobody_signed_in().await;
}

async fn a_callback_with_another_browsers_state_is_rejected(app: TestApp) {
    // The attacker starts a sign-in in their own browser and lures the victim to the callback
    // (login CSRF): the victim's browser has no matching binding, so nothing happens.
    let attacker = app.browser();
    let callback = attacker.approved_callback(&Person::new("Mallory", "mallory@example.test")).await;
    let victim = app.browser();
    victim.get("/auth/dev/login").await; // the victim even has a binding cookie of their own

    let response = victim.follow(&callback).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.expect("a page").contains("Sign-in started elsewhere"));
    assert_eq!(victim.me().await.0, StatusCode::UNAUTHORIZED);
    app.assert_nobody_signed_in().await;
}

async fn a_replayed_callback_is_rejected_and_creates_nothing_new(app: TestApp) {
    let browser = app.browser();
    let callback = browser.approved_callback(&Person::ada()).await;
    assert_eq!(browser.follow(&callback).await.status(), StatusCode::SEE_OTHER);
    let first_session = browser.session_cookie();

    let replay = browser.follow(&callback).await;

    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookies(&replay).iter().all(|c| !c.starts_with("latchkey_session=")));
    assert_eq!(browser.session_cookie(), first_session, "the replay changed nothing");
    assert_eq!(app.users().await, 1);
    assert_eq!(app.sessions().await, 1);
}

async fn an_expired_pending_login_is_rejected(app: TestApp) {
    let browser = app.browser();
    let callback = browser.approved_callback(&Person::ada()).await;
    // Eleven minutes pass at the provider.
    use latchkey::latchkey_server::storage::entities::pending_login;
    use sea_orm::{EntityTrait, sea_query::Expr};
    pending_login::Entity::update_many()
        .col_expr(pending_login::Column::ExpiresAt, Expr::value(chrono::Utc::now() - chrono::TimeDelta::minutes(1)))
        .exec(&app.db)
        .await
        .expect("update");

    let response = browser.follow(&callback).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    app.assert_nobody_signed_in().await;
}

async fn denying_consent_at_the_provider_shows_an_error_page_and_signs_nobody_in(app: TestApp) {
    let browser = app.browser();
    let authorize = browser.start_sign_in(None).await;
    let callback = browser.decide_at_provider(&authorize, &Person::ada(), "deny").await;
    assert_eq!(
        callback.query_pairs().find(|(k, _)| k == "error").map(|(_, v)| v.into_owned()).as_deref(),
        Some("access_denied")
    );

    let response = browser.follow(&callback).await;

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.expect("a page");
    assert!(page.contains("Sign-in cancelled"), "{page}");
    assert!(page.contains("Try again"));
    assert_eq!(app.pending_logins().await, 0, "the denied attempt cannot be resumed");
    app.assert_nobody_signed_in().await;
}

async fn an_off_site_return_to_is_not_followed(app: TestApp) {
    for target in ["https://evil.example/steal", "//evil.example/steal", "/\\evil.example"] {
        let browser = app.browser();
        let authorize = browser.start_sign_in(Some(target)).await;
        let callback = browser.decide_at_provider(&authorize, &Person::ada(), "allow").await;

        let response = browser.follow(&callback).await;

        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let next = location(&response);
        assert_eq!(next.origin(), app.base.origin(), "{target} stays on this site");
        assert_eq!(next.path(), "/profile", "{target} falls back to the profile");
    }
}

#[tokio::test]
async fn a_same_site_return_to_is_followed() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    let authorize = browser.start_sign_in(Some("/profile?tab=accounts")).await;
    let callback = browser.decide_at_provider(&authorize, &Person::ada(), "allow").await;

    let response = browser.follow(&callback).await;

    assert_eq!(location(&response).as_str(), app.url("/profile?tab=accounts").as_str());
}

#[tokio::test]
async fn the_authorization_request_uses_pkce_s256_and_fresh_state_and_nonce() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();

    let first = browser.start_sign_in(None).await;
    let second = browser.start_sign_in(None).await;

    let param = |url: &url::Url, name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(param(&first, "code_challenge_method").as_deref(), Some("S256"));
    assert!(param(&first, "code_challenge").is_some_and(|c| c.len() == 43));
    for name in ["state", "nonce"] {
        let value = param(&first, name).expect("present");
        assert!(value.len() >= 22, "{name} carries at least 128 bits");
        assert_ne!(Some(value), param(&second, name), "{name} is fresh per attempt");
    }
    assert_eq!(param(&first, "response_type").as_deref(), Some("code"));
    assert_eq!(param(&first, "redirect_uri"), Some(app.url("/auth/dev/callback").to_string()));
}

#[tokio::test]
async fn an_unknown_provider_is_a_404_page() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;

    let response = app.browser().get("/auth/nope/login").await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.expect("a page").contains("Unknown sign-in option"));
}

#[tokio::test]
async fn a_callback_shows_no_text_the_request_supplied() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    let authorize = browser.start_sign_in(None).await;
    let state = authorize.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).expect("a state");

    let response = browser
        .get(&format!(
            "/auth/dev/callback?state={state}&error=Call%20us%20at%20555-0100&error_description=Your%20account%20is%20locked"
        ))
        .await;

    let page = response.text().await.expect("a page");
    assert!(page.contains("Dev provider reported a problem, so you are not signed in."), "{page}");
    assert!(!page.contains("555-0100") && !page.contains("locked"), "nothing of the request is echoed: {page}");
    app.assert_nobody_signed_in().await;
}
