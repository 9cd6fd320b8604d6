//! Many people at once: no sign-in is lost and no page load fails while sign-ins are being
//! written (SQLite's single writer, PostgreSQL's unique key and retries). Not timed: the
//! numbers are the benchmark program's job (`bench/`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use latchkey::latchkey_server::storage::entities::identity;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use tokio::task::JoinSet;

use crate::on_every_backend;
use crate::support::{Browser, Person, TestApp, location};

on_every_backend!(
    with super::without_rate_limits();
    sixty_four_people_signing_in_at_once_all_get_a_working_session_while_pages_load,
    sixteen_first_sign_ins_of_one_identity_at_once_make_one_user,
);

/// Every browser here is 127.0.0.1, and the page loaders loop far beyond any person's pace:
/// the per-address limits would (rightly) refuse them.
fn without_rate_limits() -> crate::support::Options {
    let unlimited = || "1000000".to_string();
    crate::support::Options {
        settings: vec![
            ("LATCHKEY_RATE_LIMIT_SIGN_INS_PER_MINUTE", unlimited()),
            ("LATCHKEY_RATE_LIMIT_CALLBACKS_PER_MINUTE", unlimited()),
            ("LATCHKEY_RATE_LIMIT_API_PER_MINUTE", unlimited()),
        ],
        ..Default::default()
    }
}

const PEOPLE: usize = 64;
const PAGE_LOADERS: usize = 8;

async fn sixty_four_people_signing_in_at_once_all_get_a_working_session_while_pages_load(app: TestApp) {
    // People already signed in keep loading pages while the others sign in.
    let mut loaders = Vec::new();
    for n in 0..PAGE_LOADERS {
        let browser = app.browser();
        let response =
            browser.sign_in_as(&Person::new(&format!("Reader {n}"), &format!("reader{n}@example.test"))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        loaders.push(browser);
    }
    let signing_in = Arc::new(AtomicBool::new(true));
    let page_loads = Arc::new(AtomicUsize::new(0));
    let mut readers = JoinSet::new();
    for browser in loaders {
        let (signing_in, page_loads) = (signing_in.clone(), page_loads.clone());
        readers.spawn(async move {
            let mut failures = Vec::new();
            while signing_in.load(Ordering::SeqCst) {
                for path in ["/api/me", "/profile"] {
                    let status = browser.get(path).await.status();
                    page_loads.fetch_add(1, Ordering::SeqCst);
                    if status != StatusCode::OK {
                        failures.push(format!("{path}: {status}"));
                    }
                }
            }
            failures
        });
    }

    let mut sign_ins = JoinSet::new();
    for n in 0..PEOPLE {
        let browser = app.browser();
        let person = Person::new(&format!("Person {n}"), &format!("person{n}@example.test"));
        sign_ins.spawn(async move { sign_in_completely(&browser, &person).await });
    }
    let mut failed_sign_ins = Vec::new();
    let mut user_ids = Vec::new();
    while let Some(outcome) = sign_ins.join_next().await {
        match outcome.expect("the sign-in task ran") {
            Ok(user_id) => user_ids.push(user_id),
            Err(failure) => failed_sign_ins.push(failure),
        }
    }
    signing_in.store(false, Ordering::SeqCst);
    let mut failed_page_loads = Vec::new();
    while let Some(failures) = readers.join_next().await {
        failed_page_loads.extend(failures.expect("the page-load task ran"));
    }

    assert_eq!(failed_sign_ins, Vec::<String>::new(), "no sign-in failed");
    assert_eq!(failed_page_loads, Vec::<String>::new(), "no page load failed");
    assert!(page_loads.load(Ordering::SeqCst) >= PAGE_LOADERS, "pages were loaded during the sign-ins");
    user_ids.sort();
    user_ids.dedup();
    assert_eq!(user_ids.len(), PEOPLE, "each person has an account of their own");
    assert_eq!(app.users().await, (PEOPLE + PAGE_LOADERS) as u64, "one user per person, no more");
    assert_eq!(app.identities().await, (PEOPLE + PAGE_LOADERS) as u64, "one identity per person");
    assert_eq!(app.sessions().await, (PEOPLE + PAGE_LOADERS) as u64, "one session per browser");
}

/// Login → provider → callback → `/api/me`; the user id, or what went wrong.
async fn sign_in_completely(browser: &Browser, person: &Person) -> Result<String, String> {
    let callback = browser.sign_in_as(person).await;
    let status = callback.status();
    if status != StatusCode::SEE_OTHER || location(&callback).path() != "/profile" {
        let body = callback.text().await.unwrap_or_default();
        let title =
            body.split_once("<title>").and_then(|(_, rest)| rest.split_once("</title>")).map(|(title, _)| title);
        return Err(format!("{}: callback answered {status}: {}", person.email, title.unwrap_or("(no page title)")));
    }
    let (status, me) = browser.me().await;
    if status != StatusCode::OK || me["user"]["email"] != person.email.as_str() {
        return Err(format!("{}: /api/me answered {status}: {me}", person.email));
    }
    me["user"]["id"].as_str().map(str::to_string).ok_or_else(|| format!("{}: no user id", person.email))
}

async fn sixteen_first_sign_ins_of_one_identity_at_once_make_one_user(app: TestApp) {
    const BROWSERS: usize = 16;
    // Everything up to the callback first, so that the callbacks race each other.
    let mut ready = Vec::new();
    for _ in 0..BROWSERS {
        let browser = app.browser();
        let callback = browser.approved_callback(&Person::ada()).await;
        ready.push((browser, callback));
    }
    assert_eq!(app.users().await, 0);

    let mut callbacks = JoinSet::new();
    for (browser, callback) in ready {
        callbacks.spawn(async move {
            let status = browser.follow(&callback).await.status();
            let (me_status, me) = browser.me().await;
            (status, me_status, me["user"]["id"].as_str().map(str::to_string))
        });
    }
    let mut user_ids = Vec::new();
    while let Some(outcome) = callbacks.join_next().await {
        let (status, me_status, user_id) = outcome.expect("the callback task ran");
        assert_eq!(status, StatusCode::SEE_OTHER, "every browser's sign-in succeeds");
        assert_eq!(me_status, StatusCode::OK, "every browser's session works");
        user_ids.push(user_id.expect("a user id"));
    }

    user_ids.sort();
    user_ids.dedup();
    assert_eq!(user_ids.len(), 1, "all sixteen browsers are signed in to the same account");
    assert_eq!(app.users().await, 1, "one user");
    let identities = identity::Entity::find().all(&app.db).await.expect("identities");
    assert_eq!(identities.len(), 1, "one identity");
    assert_eq!(app.sessions().await, BROWSERS as u64, "a session per browser");
}
