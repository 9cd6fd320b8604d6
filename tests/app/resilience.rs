//! Bad days: a provider that hangs, a database that fails mid-sign-in.

use latchkey::latchkey_dev_idp::Misbehaviour;
use reqwest::StatusCode;

use crate::on_every_backend;
use crate::support::{Person, TestApp};

on_every_backend!(a_database_failure_during_sign_in_leaves_nothing_half_written);

async fn a_database_failure_during_sign_in_leaves_nothing_half_written(app: TestApp) {
    let browser = app.browser();
    let callback = browser.approved_callback(&Person::ada()).await;
    // The user and identity inserts succeed; the session insert then fails.
    app.execute("DROP TABLE sessions").await;

    let response = browser.follow(&callback).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().await.expect("a page").contains("nothing was changed"));
    assert_eq!(app.users().await, 0, "the user insert was rolled back");
    assert_eq!(app.identities().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_hangs_times_out_with_a_clear_page() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    app.misbehave(Misbehaviour::SlowTokenEndpoint);
    let browser = app.browser();
    let callback = browser.approved_callback(&Person::ada()).await;

    // The provider stalls for 30 s, longer than this test's browser waits (20 s): only
    // latchkey's own provider timeout (2 s here) can produce an answer at all.
    let response = browser.follow(&callback).await;

    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.expect("a page").contains("is not responding"));
    app.assert_nobody_signed_in().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_answer_past_the_size_cap_is_refused_and_signs_nobody_in() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    app.misbehave(Misbehaviour::OversizedTokenResponse);
    let browser = app.browser();
    let callback = browser.approved_callback(&Person::ada()).await;

    let response = browser.follow(&callback).await;

    assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "a megabyte of token response is no token response");
    app.assert_nobody_signed_in().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_the_api_answer_503_while_the_database_fails() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    // Sessions still authenticate; reading the person's identities fails.
    app.execute("DROP TABLE provider_tokens").await;
    app.execute("DROP TABLE identities").await;

    let page = browser.get("/profile").await;
    let api = browser.get("/api/me").await;

    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE, "a page that could not be built is no 200");
    assert!(page.text().await.expect("a page").contains("try again"), "it says what to do");
    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
}
