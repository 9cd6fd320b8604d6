//! Bad days: a provider that hangs, a database that fails mid-sign-in.

use std::time::Duration;

use latchkey::latchkey_dev_idp::Misbehaviour;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::on_every_backend;
use crate::support::{Backend, Options, Person, TestApp, skip_postgres};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_whose_discovery_fails_is_not_asked_again_at_once_and_other_providers_still_work() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    app.misbehave(Misbehaviour::DiscoveryUnavailable);
    let browser = app.browser();

    let first = browser.get("/auth/dev/login").await;
    let second = browser.get("/auth/dev/login").await;
    let other = browser.get("/auth/dev2/login").await;

    assert_eq!(first.status(), StatusCode::BAD_GATEWAY);
    assert!(first.text().await.expect("a page").contains("is not responding"));
    assert_eq!(second.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(app.dev_idp().discovery_fetch_count(), 1, "the failure is remembered (30 s), not asked again");
    assert_eq!(other.status(), StatusCode::SEE_OTHER, "another provider is unaffected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_a_key_refresh_waits_on_the_provider_other_sign_ins_complete_with_the_last_good_keys() {
    let options = Options {
        jwks_refetch_interval: Some(Duration::ZERO),
        settings: vec![("LATCHKEY_IDP_TIMEOUT_SECONDS", "5".to_string())],
        ..Default::default()
    };
    let app = TestApp::spawn_with(crate::support::Backend::Sqlite, options).await;
    app.dev_idp().set_jwks_max_age(Some(1));
    app.browser().sign_in_as(&Person::ada()).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.misbehave(Misbehaviour::SlowKeys);
    let fetches = app.dev_idp().jwks_fetch_count();
    let refreshing = tokio::spawn({
        let browser = app.browser();
        async move { browser.get("/auth/dev/login").await.status() }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.dev_idp().jwks_fetch_count() == fetches {
        assert!(tokio::time::Instant::now() < deadline, "the keys were never refreshed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let meanwhile = app.browser();
    let signed_in = meanwhile.sign_in_as(&Person::new("Grace", "grace@example.com")).await;
    let refresh_still_waiting = !refreshing.is_finished();

    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER, "a whole sign-in completes meanwhile");
    assert_eq!(meanwhile.me().await.0, StatusCode::OK);
    assert!(refresh_still_waiting, "while the refresh was still waiting for the provider");
    let refreshed = refreshing.await.expect("the refreshing request's task");
    assert_eq!(refreshed, StatusCode::SEE_OTHER, "the provider timed out: the last good keys serve on");
    let fetches = app.dev_idp().jwks_fetch_count();
    app.browser().get("/auth/dev/login").await;
    assert_eq!(app.dev_idp().jwks_fetch_count(), fetches, "the failure is remembered, not retried at once");
}

/// PostgreSQL restarted while latchkey's connections sat idle: the next request still works
/// (an idle connection is checked before use and replaced when dead), not a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_connection_that_died_while_idle_is_replaced_before_it_is_used() {
    let Some(app) = TestApp::try_spawn(Backend::Postgres, Options::default()).await else {
        return skip_postgres("resilience::a_postgres_connection_that_died_while_idle_is_replaced_before_it_is_used");
    };
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    assert_eq!(browser.get("/api/me").await.status(), StatusCode::OK, "signed in");

    // What a restart of the server does to every connection: end it.
    let ended = app
        .db
        .query_all(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        ))
        .await
        .expect("the server's connections ended");
    assert!(!ended.is_empty(), "latchkey had connections to end");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    assert_eq!(browser.get("/api/me").await.status(), StatusCode::OK, "the first request after the restart");
}
