//! Sessions: rotated at every sign-in, ended server-side at sign-out, and expired when idle
//! or too old.

use latchkey::latchkey_server::storage::entities::session;
use latchkey::latchkey_server::types::ActivityKind;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, sea_query::Expr};

use crate::on_every_backend;
use crate::support::{Person, TestApp, location, me_with_cookie};

on_every_backend!(
    after_sign_out_the_old_cookie_gets_401,
    signing_in_again_replaces_the_previous_session,
    an_idle_session_expires,
    a_session_expires_at_its_absolute_lifetime,
    a_session_in_use_is_noted_as_seen_every_few_minutes_at_most,
    each_session_keeps_the_provider_session_id_of_its_sign_in,
    signing_out_everywhere_else_ends_every_other_session_and_keeps_this_one,
);

async fn signing_out_everywhere_else_ends_every_other_session_and_keeps_this_one(app: TestApp) {
    let (here, laptop, phone, someone_else) = (app.browser(), app.browser(), app.browser(), app.browser());
    for browser in [&here, &laptop, &phone] {
        browser.sign_in_as(&Person::ada()).await;
    }
    someone_else.sign_in_as(&Person::grace()).await;
    let before = here.get("/sessions").await.text().await.expect("the sessions page");
    assert!(before.contains("Sign out everywhere else"), "offered while there are other sessions");

    let answer = here.submit("end_other_sessions", &[]).await;

    assert_eq!(location(&answer).path(), "/sessions");
    let page = here.page_after(answer).await;
    assert!(page.contains("Every other session was signed out."), "{page}");
    assert!(!page.contains(">Sign out everywhere else<"), "nothing else to sign out");
    assert_eq!(here.me().await.0, StatusCode::OK, "this browser stays signed in");
    assert_eq!(laptop.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(phone.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(someone_else.me().await.0, StatusCode::OK, "another person's session goes on");
    assert_eq!(app.activity(&here, 0).await.events[0].kind, ActivityKind::OtherSessionsEnded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_session_shows_its_provider_and_whether_that_provider_can_end_it() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    let page = browser.get("/sessions").await.text().await.expect("the sessions page");

    assert!(page.contains("Signed in via Dev provider"), "{page}");
    assert!(page.contains("Dev provider can sign it out when you sign out there"), "it advertises back-channel logout");
}

async fn each_session_keeps_the_provider_session_id_of_its_sign_in(app: TestApp) {
    let (first, second) = (app.browser(), app.browser());
    first.sign_in_as(&Person::ada()).await;
    second.sign_in_as(&Person::ada()).await;

    let issued = app.dev_idp().issued_sids();
    let kept = [app.session(&first).await.record.provider_sid, app.session(&second).await.record.provider_sid];

    assert_eq!(issued.len(), 2, "one provider session per sign-in");
    assert_ne!(issued[0], issued[1]);
    assert_eq!(kept, [Some(issued[0].clone()), Some(issued[1].clone())], "each session has its sign-in's `sid`");
}

async fn after_sign_out_the_old_cookie_gets_401(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let token = browser.session_cookie().expect("signed in");
    assert_eq!(me_with_cookie(&app, &token).await, StatusCode::OK);

    let response = browser.sign_out().await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).path(), "/");
    assert_eq!(me_with_cookie(&app, &token).await, StatusCode::UNAUTHORIZED, "the session ended on the server");
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.sessions().await, 0);
    assert_eq!(app.users().await, 1, "signing out keeps the account");
}

async fn signing_in_again_replaces_the_previous_session(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let before = browser.session_cookie().expect("signed in");

    browser.sign_in_as(&Person::ada()).await;

    let after = browser.session_cookie().expect("signed in again");
    assert_ne!(before, after, "a new token at every sign-in");
    assert_eq!(me_with_cookie(&app, &before).await, StatusCode::UNAUTHORIZED, "the old token is dead");
    assert_eq!(me_with_cookie(&app, &after).await, StatusCode::OK);
    assert_eq!(app.sessions().await, 1);
}

async fn an_idle_session_expires(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let long_ago = chrono::Utc::now() - chrono::TimeDelta::days(8);
    session::Entity::update_many()
        .col_expr(session::Column::LastSeenAt, Expr::value(long_ago))
        .exec(&app.db)
        .await
        .expect("update");

    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.sessions().await, 0, "the expired session is gone");
}

async fn last_seen(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    session::Entity::find().one(&app.db).await.expect("query").expect("a session").last_seen_at
}

async fn set_last_seen(app: &TestApp, minutes_ago: i64) -> chrono::DateTime<chrono::Utc> {
    let at = chrono::Utc::now() - chrono::TimeDelta::minutes(minutes_ago);
    session::Entity::update_many()
        .col_expr(session::Column::LastSeenAt, Expr::value(at))
        .exec(&app.db)
        .await
        .expect("update");
    last_seen(app).await
}

async fn a_session_in_use_is_noted_as_seen_every_few_minutes_at_most(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    let two_minutes_ago = set_last_seen(&app, 2).await;
    assert_eq!(browser.me().await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(last_seen(&app).await, two_minutes_ago, "a read within five minutes of the last note writes nothing");

    set_last_seen(&app, 6).await;
    assert_eq!(browser.me().await.0, StatusCode::OK);
    // The note is written beside the response, not before it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while last_seen(&app).await < chrono::Utc::now() - chrono::TimeDelta::minutes(1) {
        assert!(tokio::time::Instant::now() < deadline, "the session's use was never noted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn a_session_expires_at_its_absolute_lifetime(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let past = chrono::Utc::now() - chrono::TimeDelta::seconds(1);
    session::Entity::update_many()
        .col_expr(session::Column::ExpiresAt, Expr::value(past))
        .exec(&app.db)
        .await
        .expect("update");

    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_out_from_another_site_is_refused() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    let response = browser
        .client
        .post(app.url("/auth/logout"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("an answer");

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.me().await.0, StatusCode::OK, "still signed in");
}

#[tokio::test]
async fn a_garbage_session_cookie_is_just_signed_out() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;

    assert_eq!(me_with_cookie(&app, "not-a-token").await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_with_cookie(&app, &"x".repeat(5000)).await, StatusCode::UNAUTHORIZED);
}
