//! Admins (a verified email in `LATCHKEY_ADMINS`, or granted): they find accounts, end their
//! sessions, disable and enable them, each action in the target's log naming the admin.
//! Everyone else gets a 404 for everything under `/admin`.

use latchkey::latchkey_server::types::ActivityKind;
use reqwest::StatusCode;

use crate::on_every_backend;
use crate::support::{Browser, Options, Person, TestApp, location};

pub fn with_an_admin() -> Options {
    Options { settings: vec![("LATCHKEY_ADMINS", "Boss@Example.test".to_string())], ..Default::default() }
}

fn boss() -> Person {
    Person::new("The Boss", "boss@example.test")
}

on_every_backend!(with crate::admin::with_an_admin();
    everyone_but_an_admin_gets_a_404_for_everything_under_admin,
    an_admin_finds_accounts_by_name_email_or_provider_subject,
    a_disabled_account_is_signed_out_and_cannot_sign_in_or_use_its_tokens_until_enabled,
    an_admin_ends_every_session_of_an_account,
);

async fn signed_in(app: &TestApp, person: &Person) -> (Browser, String) {
    let browser = app.browser();
    browser.sign_in_as(person).await;
    let id = app.me(&browser).await.id.to_string();
    (browser, id)
}

async fn status(browser: &Browser, path: &str) -> StatusCode {
    browser.get(path).await.status()
}

async fn everyone_but_an_admin_gets_a_404_for_everything_under_admin(app: TestApp) {
    let (ada, ada_id) = signed_in(&app, &Person::ada()).await;
    let anonymous = app.browser();
    let unverified = Person { email_verified: false, ..boss() };
    let (pretender, _) = signed_in(&app, &unverified).await;

    for browser in [&anonymous, &ada, &pretender] {
        for path in ["/admin/users", &format!("/admin/users/{ada_id}"), "/admin/users?q=ada", "/admin/anything"] {
            assert_eq!(status(browser, path).await, StatusCode::NOT_FOUND, "{path}");
        }
    }
    let refused = pretender.call("admin_disable_user", &[("user", &ada_id)]).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND, "the action too");
    assert_eq!(ada.me().await.0, StatusCode::OK, "nothing happened to the account");
    let (admin, _) = signed_in(&app, &boss()).await;
    assert_eq!(status(&admin, "/admin/users").await, StatusCode::OK, "an admin (email case ignored) gets the page");
}

async fn an_admin_finds_accounts_by_name_email_or_provider_subject(app: TestApp) {
    let (ada, _) = signed_in(&app, &Person::ada()).await;
    signed_in(&app, &Person::grace()).await;
    let ada_subject = app.me(&ada).await.identities[0].subject.clone();
    let (admin, _) = signed_in(&app, &boss()).await;
    let page = |query: String| {
        let admin = admin.clone();
        async move { admin.get(&format!("/admin/users?q={query}")).await.text().await.expect("the page") }
    };

    let by_name = page("grace".into()).await;
    let by_email = page("ADA%40EXAMPLE".into()).await;
    let by_subject = page(ada_subject).await;
    let everyone = page(String::new()).await;
    let wildcard = page("%25".into()).await;

    assert!(by_name.contains("Grace Hopper") && !by_name.contains("Ada Lovelace"), "{by_name}");
    assert!(by_email.contains("Ada Lovelace") && !by_email.contains("Grace Hopper"), "{by_email}");
    assert!(by_subject.contains("Ada Lovelace") && !by_subject.contains("Grace Hopper"), "{by_subject}");
    assert!(["Ada Lovelace", "Grace Hopper", "The Boss"].iter().all(|name| everyone.contains(name)));
    assert!(wildcard.contains("No account matches."), "a % is a character, not a wildcard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_of_accounts_comes_a_page_at_a_time() {
    let app = TestApp::spawn_with(crate::support::Backend::Sqlite, with_an_admin()).await;
    for n in 0..26 {
        app.browser().sign_in_as(&Person::new(&format!("Person {n:02}"), &format!("p{n}@example.test"))).await;
    }
    let (admin, _) = signed_in(&app, &boss()).await;

    let first = admin.get("/admin/users?q=person").await.text().await.expect("the page");
    let second = admin.get("/admin/users?q=person&page=2").await.text().await.expect("the page");

    assert!(first.contains("Person 00") && first.contains("Person 24") && !first.contains("Person 25"));
    assert!(first.contains("Page 1 of 2"));
    assert!(second.contains("Person 25") && !second.contains("Person 24"), "{second}");
}

async fn a_disabled_account_is_signed_out_and_cannot_sign_in_or_use_its_tokens_until_enabled(app: TestApp) {
    let (ada, ada_id) = signed_in(&app, &Person::ada()).await;
    let token = crate::access_tokens::issued_token(&ada).await;
    let (admin, _) = signed_in(&app, &boss()).await;

    let disabled = admin.submit("admin_disable_user", &[("user", &ada_id)]).await;

    assert_eq!(location(&disabled).path(), format!("/admin/users/{ada_id}"));
    let page = admin.page_after(disabled).await;
    assert!(page.contains("The account is disabled and signed out everywhere."), "{page}");
    assert_eq!(ada.me().await.0, StatusCode::UNAUTHORIZED, "its session ended");
    let bearer = reqwest::Client::new().get(app.url("/api/me")).bearer_auth(&token).send().await.expect("an answer");
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED, "its access tokens are refused");
    let again = ada.sign_in_as(&Person::ada()).await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert!(again.text().await.expect("a page").contains("This account is disabled"));
    assert_eq!(ada.me().await.0, StatusCode::UNAUTHORIZED, "no session was issued");

    let enabled = admin.submit("admin_enable_user", &[("user", &ada_id)]).await;

    assert_eq!(location(&enabled).query(), Some("done=enabled"));
    ada.sign_in_as(&Person::ada()).await;
    assert_eq!(ada.me().await.0, StatusCode::OK, "it signs in again");
    let events = app.activity(&ada, 0).await.events;
    let kinds: Vec<ActivityKind> = events.iter().map(|event| event.kind).collect();
    assert_eq!(
        kinds[..4],
        [
            ActivityKind::SignedIn,
            ActivityKind::AccountEnabled,
            ActivityKind::SignInFailed,
            ActivityKind::AccountDisabled
        ]
    );
    assert_eq!(events[1].detail.as_deref(), Some("by The Boss (boss@example.test)"), "the admin is named");
    assert_eq!(events[3].detail.as_deref(), Some("by The Boss (boss@example.test)"));
}

async fn an_admin_ends_every_session_of_an_account(app: TestApp) {
    let (laptop, ada_id) = signed_in(&app, &Person::ada()).await;
    let (phone, _) = signed_in(&app, &Person::ada()).await;
    let (grace, _) = signed_in(&app, &Person::grace()).await;
    let (admin, _) = signed_in(&app, &boss()).await;

    let answer = admin.call("admin_end_sessions", &[("user", &ada_id)]).await;

    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(laptop.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(phone.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(grace.me().await.0, StatusCode::OK, "another person's session goes on");
    assert_eq!(admin.me().await.0, StatusCode::OK);
    laptop.sign_in_as(&Person::ada()).await;
    let event = &app.activity(&laptop, 0).await.events[1];
    assert_eq!(event.kind, ActivityKind::SessionsEndedByAdmin);
    assert_eq!(event.detail.as_deref(), Some("by The Boss (boss@example.test)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_cannot_disable_their_own_account() {
    let app = TestApp::spawn_with(crate::support::Backend::Sqlite, with_an_admin()).await;
    let (admin, admin_id) = signed_in(&app, &boss()).await;

    let refused = admin.call("admin_disable_user", &[("user", &admin_id)]).await;

    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(admin.me().await.0, StatusCode::OK, "still signed in, not locked out");
    let page = admin.page_after(admin.submit("admin_disable_user", &[("user", &admin_id)]).await).await;
    assert!(page.contains("You cannot disable your own account"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_rights_can_be_granted_and_revoked_by_email() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let (grace, _) = signed_in(&app, &Person::grace()).await;
    assert_eq!(status(&grace, "/admin/users").await, StatusCode::NOT_FOUND);

    assert!(app.latchkey.admins().grant("GRACE@example.test").await.expect("granted"));
    assert_eq!(status(&grace, "/admin/users").await, StatusCode::OK);

    assert!(app.latchkey.admins().revoke("grace@example.test").await.expect("revoked"));
    assert_eq!(status(&grace, "/admin/users").await, StatusCode::NOT_FOUND);
}
