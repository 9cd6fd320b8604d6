//! Rate limits per client address, the client address behind a trusted proxy, and the cap on
//! pending sign-ins per browser.

use latchkey::latchkey_server::types::ApiRefusal;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

use crate::on_every_backend;
use crate::support::{Backend, Browser, Options, Person, TestApp, location};

on_every_backend!(a_browser_keeps_at_most_eight_pending_sign_ins);

async fn app_with(settings: &[(&'static str, &str)]) -> TestApp {
    let settings = settings.iter().map(|(name, value)| (*name, value.to_string())).collect();
    TestApp::spawn_with(Backend::Sqlite, Options { settings, ..Default::default() }).await
}

fn forwarded_for(address: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", HeaderValue::from_static(address));
    headers
}

async fn sign_in_start(browser: &Browser) -> reqwest::Response {
    browser.get("/auth/dev/login").await
}

/// The whole seconds a refusal asks to wait.
fn retry_after(response: &reqwest::Response) -> u64 {
    let value = response.headers().get(RETRY_AFTER).expect("a Retry-After header");
    value.to_str().ok().and_then(|v| v.parse().ok()).expect("Retry-After is a whole number of seconds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_starts_beyond_the_limit_are_refused_with_429_and_when_to_try_again() {
    let app = app_with(&[("LATCHKEY_RATE_LIMIT_SIGN_INS_PER_MINUTE", "3")]).await;
    for _ in 0..3 {
        assert_eq!(sign_in_start(&app.browser()).await.status(), StatusCode::SEE_OTHER);
    }

    let refused = sign_in_start(&app.browser()).await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&refused);
    assert!((1..=20).contains(&wait), "a minute's allowance of 3 comes back one every 20 s: {wait}");
    let page = refused.text().await.expect("a page");
    assert!(page.contains("Too many attempts") && page.contains(&format!("wait {wait} seconds")), "{page}");
    assert_eq!(app.pending_logins().await, 3, "the refused start stored nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_calls_beyond_the_limit_get_a_json_429() {
    let app = app_with(&[("LATCHKEY_RATE_LIMIT_API_PER_MINUTE", "2")]).await;
    let browser = app.browser();
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);

    let refused = browser.get("/api/me").await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&refused);
    let body: ApiRefusal = refused.json().await.expect("the API's refusal");
    assert_eq!(body.retry_after, Some(wait));
    assert!(body.error.contains("Please wait"), "{}", body.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_apply_to_each_kind_of_request_separately() {
    let app = app_with(&[("LATCHKEY_RATE_LIMIT_SIGN_INS_PER_MINUTE", "1")]).await;
    let browser = app.browser();
    let callback = browser.approved_callback(&Person::ada()).await;
    assert_eq!(sign_in_start(&browser).await.status(), StatusCode::TOO_MANY_REQUESTS, "the one start is used");

    let signed_in = browser.follow(&callback).await;

    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER, "returning from the provider has its own allowance");
    assert_eq!(browser.me().await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_cannot_buy_a_fresh_allowance_unless_the_peer_is_a_trusted_proxy() {
    let app = app_with(&[("LATCHKEY_RATE_LIMIT_SIGN_INS_PER_MINUTE", "1")]).await;
    let first = app.browser_sending(forwarded_for("198.51.100.1"));
    let second = app.browser_sending(forwarded_for("198.51.100.2"));

    assert_eq!(sign_in_start(&first).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(sign_in_start(&second).await.status(), StatusCode::TOO_MANY_REQUESTS, "both are the peer 127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance_and_address() {
    let app =
        app_with(&[("LATCHKEY_RATE_LIMIT_SIGN_INS_PER_MINUTE", "1"), ("LATCHKEY_TRUSTED_PROXIES", "127.0.0.1/32")])
            .await;
    let first = app.browser_sending(forwarded_for("198.51.100.1"));
    let second = app.browser_sending(forwarded_for("203.0.113.5, 198.51.100.2"));

    first.sign_in_as(&Person::ada()).await;
    assert_eq!(sign_in_start(&first).await.status(), StatusCode::TOO_MANY_REQUESTS, "198.51.100.1 used its start");
    second.sign_in_as(&Person::grace()).await;

    assert_eq!(app.session(&first).await.record.ip.as_deref(), Some("198.51.100.1"));
    assert_eq!(app.session(&second).await.record.ip.as_deref(), Some("198.51.100.2"), "the nearest hop, not 203.…");
}

async fn a_browser_keeps_at_most_eight_pending_sign_ins(app: TestApp) {
    let browser = app.browser();
    for _ in 0..19 {
        browser.start_sign_in(None).await;
    }
    let latest = browser.start_sign_in(None).await;

    assert_eq!(app.pending_logins().await, 8, "the oldest were forgotten");
    let callback = browser.decide_at_provider(&latest, &Person::ada(), "allow").await;
    let signed_in = browser.follow(&callback).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed_in).path(), "/profile", "the latest sign-in completes");
    assert_eq!(browser.me().await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_user_agent_is_kept_to_512_bytes_on_the_session_and_in_the_activity_log() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut headers = HeaderMap::new();
    headers.insert("user-agent", HeaderValue::from_str(&"Mozilla/5.0 ".repeat(1000)).expect("a header value"));
    let browser = app.browser_sending(headers);
    browser.sign_in_as(&Person::ada()).await;

    let session_agent = app.session(&browser).await.record.user_agent.expect("recorded");
    let activity = app.activity(&browser, 0).await;
    let event_agent = activity.events[0].user_agent.clone().expect("recorded");

    assert_eq!(session_agent.len(), 512);
    assert_eq!(event_agent.len(), 512);
}
