//! Signing out of the provider too (OpenID Connect RP-Initiated Logout 1.0): `POST
//! /auth/logout` with `from_provider=1` ends latchkey's session, then sends the browser to the
//! provider's end-session endpoint with the sign-in's ID token, which sends it back home.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey::latchkey_dev_idp::Misbehaviour;
use latchkey::latchkey_server::types::ActivityKind;
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use crate::on_every_backend;
use crate::support::{Browser, Person, TestApp, location};

on_every_backend!(
    signing_out_of_the_provider_too_ends_the_session_then_sends_the_browser_to_its_end_session_endpoint,
    the_provider_sends_the_browser_back_to_the_signed_out_home_page,
    a_return_without_this_browsers_state_claims_nothing,
    a_provider_without_an_end_session_endpoint_gets_a_local_sign_out_and_a_note,
    the_sign_in_id_token_is_kept_sealed_with_the_session,
);

/// `POST /auth/logout` from this site, with `from_provider=1`.
async fn sign_out_of_provider_too(browser: &Browser) -> reqwest::Response {
    browser.post_here("/auth/logout", &[("from_provider", "1")]).await
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a compact JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}

async fn signing_out_of_the_provider_too_ends_the_session_then_sends_the_browser_to_its_end_session_endpoint(
    app: TestApp,
) {
    let (browser, phone) = (app.browser(), app.browser());
    browser.sign_in_as(&Person::ada()).await;
    phone.sign_in_as(&Person::ada()).await;
    let sid = app.dev_idp().issued_sids()[0].clone();

    let answer = sign_out_of_provider_too(&browser).await;

    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let to = location(&answer);
    assert_eq!(to.as_str().split('?').next(), Some(app.url("/dev-idp/logout").as_str()));
    let hint = query(&to, "id_token_hint").expect("the sign-in's ID token as the hint");
    assert_eq!(jwt_claims(&hint)["sid"], sid.as_str(), "this session's sign-in, not another's");
    assert_eq!(query(&to, "client_id").as_deref(), Some("latchkey-dev"));
    assert_eq!(query(&to, "post_logout_redirect_uri"), Some(app.url("/auth/dev/logged-out").to_string()));
    assert!(query(&to, "state").is_some_and(|state| state.len() >= 32), "a fresh state");
    assert_eq!(answer.headers()["cache-control"], "no-store");
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED, "latchkey's session ended first");
    assert_eq!(phone.me().await.0, StatusCode::OK, "the person's other browser goes on");
    assert_eq!(app.activity(&phone, 0).await.events[0].kind, ActivityKind::SignedOut);
}

async fn the_provider_sends_the_browser_back_to_the_signed_out_home_page(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let sid = app.dev_idp().issued_sids()[0].clone();
    let at_provider = location(&sign_out_of_provider_too(&browser).await);

    let from_provider = browser.follow(&at_provider).await;
    assert_eq!(from_provider.status(), StatusCode::SEE_OTHER, "the provider accepts the request");
    assert_eq!(app.dev_idp().ended_sids(), [sid], "and signs that provider session out");
    let back = browser.follow(&location(&from_provider)).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let home = location(&back);
    assert_eq!(home.path(), "/");
    let page = browser.follow(&home).await.text().await.expect("the home page");

    assert!(page.contains("You are signed out of latchkey and of Dev provider."), "{page}");
    assert!(page.contains("Sign in with Dev provider"), "the signed-out home page");
}

async fn a_return_without_this_browsers_state_claims_nothing(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    sign_out_of_provider_too(&browser).await;

    let forged = browser.get("/auth/dev/logged-out?state=someone-elses").await;
    let elsewhere = app.browser().get("/auth/dev/logged-out?state=anything").await;

    for answer in [forged, elsewhere] {
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&answer).as_str(), app.url("/").as_str(), "home, with no note");
    }
}

async fn a_provider_without_an_end_session_endpoint_gets_a_local_sign_out_and_a_note(app: TestApp) {
    app.misbehave(Misbehaviour::NoEndSessionEndpoint);
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let profile = browser.get("/profile").await.text().await.expect("the profile page");
    assert!(!profile.contains("Sign out of Dev provider too"), "not offered where the provider cannot");

    let answer = sign_out_of_provider_too(&browser).await;

    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let home = location(&answer);
    assert_eq!(home.as_str(), app.url("/?signed_out=provider_cannot&provider=dev").as_str());
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);
    let page = browser.follow(&home).await.text().await.expect("the home page");
    assert!(page.contains("Dev provider does not offer signing out from here"), "{page}");
}

async fn the_sign_in_id_token_is_kept_sealed_with_the_session(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let session = app.session(&browser).await;

    let opened = app.latchkey.sessions().sign_in_id_token(&session).expect("the ID token is kept");

    let sealed = session.record.id_token.as_deref().expect("stored");
    let payload = opened.split('.').nth(1).expect("a compact JWT");
    assert!(!sealed.contains(payload), "never stored in the clear");
    assert_eq!(jwt_claims(&opened)["sid"], app.dev_idp().issued_sids()[0].as_str());
    let profile = browser.get("/profile").await.text().await.expect("the profile page");
    assert!(profile.contains("Sign out of Dev provider too"), "offered where the provider can");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_sign_out_stays_local_and_a_cross_site_one_does_nothing() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let (plain, attacked) = (app.browser(), app.browser());
    plain.sign_in_as(&Person::ada()).await;
    attacked.sign_in_as(&Person::grace()).await;

    let local = plain.sign_out().await;
    let cross_site = attacked.post_from("https://evil.example", "/auth/logout", &[("from_provider", "1")]).await;

    assert_eq!(local.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&local).as_str(), app.url("/").as_str(), "home, not the provider");
    assert_eq!(plain.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(attacked.me().await.0, StatusCode::OK, "still signed in");
    assert!(app.dev_idp().ended_sids().is_empty(), "nobody was sent to the provider");
}
