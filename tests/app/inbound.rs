//! Inbound protection: a body limit, a request timeout, and load shedding past a number of
//! requests in flight; the probes stay outside all of it.

use std::time::Duration;

use latchkey::latchkey_dev_idp::Misbehaviour;
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use crate::support::{Backend, Options, Person, TestApp};

async fn app_with(settings: &[(&'static str, &str)]) -> TestApp {
    let settings = settings.iter().map(|(name, value)| (*name, value.to_string())).collect();
    TestApp::spawn_with(Backend::Sqlite, Options { settings, ..Default::default() }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_64_kib_is_refused_with_413_and_changes_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let name_before = app.me(&browser).await.name;
    let long_name = "a".repeat(70 * 1024);

    let response = browser.call("update_display_name", &[("display_name", &long_name)]).await;

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.me(&browser).await.name, name_before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_the_request_timeout_gets_503_and_signs_nobody_in() {
    // The provider stalls longer than the request may take; its own timeout would answer 502.
    let app = app_with(&[("LATCHKEY_REQUEST_TIMEOUT_SECONDS", "1"), ("LATCHKEY_IDP_TIMEOUT_SECONDS", "10")]).await;
    app.misbehave(Misbehaviour::SlowTokenEndpoint);
    let browser = app.browser();
    let callback = browser.approved_callback(&Person::ada()).await;

    let response = browser.follow(&callback).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(RETRY_AFTER));
    assert!(response.text().await.expect("a page").contains("try again"), "it says what to do");
    app.assert_nobody_signed_in().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_concurrency_limit_requests_are_shed_with_503_while_the_probes_answer() {
    let app = app_with(&[("LATCHKEY_MAX_CONCURRENT_REQUESTS", "1"), ("LATCHKEY_IDP_TIMEOUT_SECONDS", "5")]).await;
    app.misbehave(Misbehaviour::SlowTokenEndpoint);
    let browser = app.browser();
    let callback = browser.approved_callback(&Person::ada()).await;
    // Holds the only place for the provider timeout (5 s).
    let slow = tokio::spawn({
        let browser = browser.clone();
        async move { browser.follow(&callback).await.status() }
    });
    // Lets the slow request take the place first: a probe sent before it would take the place
    // itself and shed the slow one instead.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let other = app.browser();
    let mut shed = None;
    while shed.is_none() && !slow.is_finished() {
        let response = other.get("/").await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            shed = Some(response);
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let healthz = other.get("/healthz").await.status();
    let slow = slow.await.expect("the slow request's task");

    let shed = shed.expect("a request was shed while the slow one was in flight");
    assert_eq!(shed.headers()[RETRY_AFTER], "1");
    assert!(shed.text().await.expect("a page").contains("try again"));
    assert_eq!(healthz, StatusCode::OK, "the probes are not limited");
    assert_eq!(slow, StatusCode::BAD_GATEWAY, "the request in flight still got its own answer");
    assert_eq!(other.get("/").await.status(), StatusCode::OK, "its place is free again");
}
