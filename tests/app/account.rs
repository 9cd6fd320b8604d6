//! The account pages' actions: sessions, activity, deletion.

use latchkey::latchkey_server::types::ActivityKind;
use reqwest::StatusCode;

use crate::on_every_backend;
use crate::support::{Person, TestApp, location, me_with_cookie};

on_every_backend!(
    a_person_can_end_their_session_in_another_browser,
    deleting_the_account_removes_everything_but_anonymised_activity,
);

async fn a_person_can_end_their_session_in_another_browser(app: TestApp) {
    let laptop = app.browser();
    laptop.sign_in_as(&Person::ada()).await;
    let phone = app.browser();
    phone.sign_in_as(&Person::ada()).await;
    let sessions = app.latchkey.sessions().list(&app.session(&laptop).await).await.expect("sessions");
    assert_eq!(sessions.len(), 2);
    let phone_session = sessions.iter().find(|s| !s.current).expect("the other session").id.clone();

    let response = laptop.submit("revoke_session", &[("session_id", phone_session.as_str())]).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).as_str().rsplit_once('/').map(|(_, page)| page), Some("sessions?done=ended"));
    assert_eq!(phone.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(laptop.me().await.0, StatusCode::OK);
    let activity = app.activity(&laptop, 0).await;
    assert_eq!(activity.events[0].kind, ActivityKind::SessionRevoked);
}

async fn deleting_the_account_removes_everything_but_anonymised_activity(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    // Events whose details name the person: a link (its email) and a profile change.
    browser.link("dev2", &Person::new("Ada at work", "ada@work.example")).await;
    browser.submit("update_display_name", &[("display_name", "Countess")]).await;
    let token = browser.session_cookie().expect("signed in");

    let response = browser.submit("delete_account", &[("confirm", "yes")]).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).path(), "/");
    assert_eq!(me_with_cookie(&app, &token).await, StatusCode::UNAUTHORIZED);
    app.assert_nobody_signed_in().await;
    use latchkey::latchkey_server::storage::entities::activity_event;
    use sea_orm::EntityTrait;
    let events = activity_event::Entity::find().all(&app.db).await.expect("query");
    assert!(!events.is_empty(), "the log keeps its rows");
    assert!(events.iter().all(|e| e.user_id.is_none()), "anonymised");
    assert!(
        events.iter().all(|e| e.detail.is_none() && e.ip.is_none() && e.user_agent.is_none()),
        "nothing names the person any more: {events:#?}"
    );
    assert!(events.iter().any(|e| e.kind == ActivityKind::AccountDeleted));
}

#[tokio::test]
async fn the_activity_log_is_newest_first_and_paginated() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    for _ in 0..21 {
        browser.sign_in_as(&Person::ada()).await;
    }

    let first = app.activity(&browser, 0).await;
    let second = app.activity(&browser, 1).await;

    assert_eq!(first.pages, 2);
    assert_eq!(first.events.len(), 20);
    assert_eq!(second.events.len(), 1);
    assert!(first.events.windows(2).all(|w| w[0].at >= w[1].at), "newest first");
    assert!(
        first.events.iter().all(|e| e.kind == ActivityKind::SignedIn && e.provider.as_deref() == Some("Dev provider"))
    );
}
