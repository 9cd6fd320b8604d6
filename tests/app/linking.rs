//! One person, many identities: linking while signed in, never moving an identity between
//! accounts, the last-identity guard, recent sign-in for unlinking, and the guided path when
//! a new identity's verified email already has an account.

use reqwest::StatusCode;

use crate::on_every_backend;
use crate::support::{Backend, Options, Person, TestApp, location, me_with_cookie};

fn ada_at_work() -> Person {
    Person::new("Ada Lovelace", "ada@analytical.example")
}

on_every_backend!(
    linking_while_signed_in_adds_the_identity_and_rotates_the_session,
    an_identity_of_another_account_is_never_moved,
    the_last_identity_cannot_be_unlinked,
    unlinking_needs_a_recent_sign_in,
    a_verified_email_match_waits_for_the_owner_to_link_it,
    an_unverified_email_never_matches_an_account,
    two_browsers_signing_up_the_same_identity_at_once_end_with_one_user,
    linking_needs_a_recent_sign_in,
    a_session_renewed_by_linking_keeps_its_sign_in_time_and_expiry,
    confirming_a_waiting_link_needs_a_recent_sign_in,
    unlinking_an_identity_ends_every_session_signed_in_with_it,
    the_browser_that_unlinks_an_identity_it_just_linked_stays_signed_in,
);

async fn unlinking_an_identity_ends_every_session_signed_in_with_it(app: TestApp) {
    let owner = app.browser();
    owner.sign_in_with("dev", &Person::ada()).await;
    owner.link("dev2", &Person::new("Mallory", "mallory@example.test")).await;
    // Someone signs in with the linked identity elsewhere.
    let intruder = app.browser();
    intruder.sign_in_with("dev2", &Person::new("Mallory", "mallory@example.test")).await;
    assert_eq!(intruder.me().await.0, StatusCode::OK);
    owner.sign_in_with("dev", &Person::ada()).await;
    let mallory = app.me(&owner).await.identities.into_iter().find(|i| i.provider == "dev2").expect("linked").id;

    let unlinked = owner.submit("unlink_identity", &[("identity", mallory.as_str())]).await;

    assert_eq!(location(&unlinked).query(), Some("done=unlinked"));
    assert_eq!(intruder.me().await.0, StatusCode::UNAUTHORIZED, "the intruder's session ended at once");
    assert_eq!(owner.me().await.0, StatusCode::OK, "the owner's goes on");
}

async fn the_browser_that_unlinks_an_identity_it_just_linked_stays_signed_in(app: TestApp) {
    let owner = app.browser();
    owner.sign_in_with("dev", &Person::ada()).await;
    owner.link("dev2", &Person::new("Ada at work", "ada@work.example")).await;
    let elsewhere = app.browser();
    elsewhere.sign_in_with("dev2", &Person::new("Ada at work", "ada@work.example")).await;
    let work = app.me(&owner).await.identities.into_iter().find(|i| i.provider == "dev2").expect("linked").id;

    let unlinked = owner.submit("unlink_identity", &[("identity", work.as_str())]).await;

    assert_eq!(location(&unlinked).query(), Some("done=unlinked"));
    assert_eq!(owner.me().await.0, StatusCode::OK, "the browser that removed it stays signed in");
    assert_eq!(app.me(&owner).await.signed_in_with, None, "no longer signed in with an identity that is gone");
    assert_eq!(elsewhere.me().await.0, StatusCode::UNAUTHORIZED, "every other session with it ended");
}

/// Makes the sessions' sign-in `minutes` old.
async fn sign_in_was(app: &TestApp, minutes: i64) {
    use latchkey::latchkey_server::storage::entities::session;
    use sea_orm::{EntityTrait, sea_query::Expr};
    session::Entity::update_many()
        .col_expr(session::Column::CreatedAt, Expr::value(chrono::Utc::now() - chrono::TimeDelta::minutes(minutes)))
        .exec(&app.db)
        .await
        .expect("update");
}

async fn linking_needs_a_recent_sign_in(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_with("dev", &Person::ada()).await;
    sign_in_was(&app, 11).await;
    let pending_before = app.pending_logins().await;

    let refused = browser.post_form("/auth/dev2/link").await;

    assert_eq!(location(&refused).query(), Some("form=link&problem=recent_sign_in_needed"));
    assert_eq!(app.pending_logins().await, pending_before, "no trip to the provider was started");
    let page = browser.page_after(refused).await;
    assert!(page.contains("Sign in again with Dev provider"), "{page}");
}

async fn a_session_renewed_by_linking_keeps_its_sign_in_time_and_expiry(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_with("dev", &Person::ada()).await;
    sign_in_was(&app, 9).await;
    let before = app.session(&browser).await.record;

    browser.link("dev2", &ada_at_work()).await;

    let after = app.session(&browser).await.record;
    assert_ne!(after.id, before.id, "a new session (and token) all the same");
    assert_eq!((after.created_at, after.expires_at), (before.created_at, before.expires_at));
}

async fn confirming_a_waiting_link_needs_a_recent_sign_in(app: TestApp) {
    let owner = app.browser();
    owner.sign_in_with("dev", &Person::ada()).await;
    let browser = app.browser();
    browser.sign_in_with("dev2", &Person::ada()).await;
    browser.sign_in_with("dev", &Person::ada()).await;
    sign_in_was(&app, 11).await;

    let refused = browser.submit("confirm_pending_link", &[]).await;

    assert_eq!(location(&refused).query(), Some("form=linked&problem=recent_sign_in_needed"));
    assert_eq!(app.identities().await, 1, "nothing was linked");
}

async fn linking_while_signed_in_adds_the_identity_and_rotates_the_session(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_with("dev", &Person::ada()).await;
    let before = browser.session_cookie().expect("signed in");

    let response = browser.link("dev2", &ada_at_work()).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).path(), "/accounts");
    assert_eq!(app.users().await, 1);
    assert_eq!(app.identities().await, 2);
    let (_, me) = browser.me().await;
    let providers: Vec<_> =
        me["accounts"].as_array().expect("accounts").iter().map(|a| a["provider"].clone()).collect();
    assert_eq!(providers, ["dev", "dev2"]);
    let after = browser.session_cookie().expect("still signed in");
    assert_ne!(before, after, "linking rotates the session");
    assert_eq!(me_with_cookie(&app, &before).await, StatusCode::UNAUTHORIZED);

    // Either identity now signs in to the same account.
    let elsewhere = app.browser();
    elsewhere.sign_in_with("dev2", &ada_at_work()).await;
    assert_eq!(elsewhere.me().await.1["user"]["id"], me["user"]["id"]);
}

async fn an_identity_of_another_account_is_never_moved(app: TestApp) {
    let grace = app.browser();
    grace.sign_in_with("dev2", &Person::grace()).await;
    let ada = app.browser();
    ada.sign_in_with("dev", &Person::ada()).await;

    let response = ada.link("dev2", &Person::grace()).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.expect("a page").contains("already linked to a different latchkey account"));
    assert_eq!(app.users().await, 2);
    assert_eq!(ada.me().await.1["accounts"].as_array().map(Vec::len), Some(1), "Ada's account is unchanged");
    assert_eq!(grace.me().await.1["accounts"][0]["provider"], "dev2", "Grace keeps her identity");
}

async fn the_last_identity_cannot_be_unlinked(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_with("dev", &Person::ada()).await;
    let current = app.me(&browser).await;

    let response = browser.submit("unlink_identity", &[("identity", current.identities[0].id.as_str())]).await;

    assert_eq!(location(&response).query(), Some("form=unlinked&problem=last_identity"));
    assert!(browser.page_after(response).await.contains("only way to sign in"));
    assert_eq!(app.identities().await, 1);
}

async fn unlinking_needs_a_recent_sign_in(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_with("dev", &Person::ada()).await;
    browser.link("dev2", &ada_at_work()).await;
    let current = app.me(&browser).await;
    let dev2 = current.identities.iter().find(|i| i.provider == "dev2").expect("linked").id.clone();
    // Eleven minutes pass.
    {
        use latchkey::latchkey_server::storage::entities::session;
        use sea_orm::{EntityTrait, sea_query::Expr};
        let eleven_minutes_ago = chrono::Utc::now() - chrono::TimeDelta::minutes(11);
        session::Entity::update_many()
            .col_expr(session::Column::CreatedAt, Expr::value(eleven_minutes_ago))
            .exec(&app.db)
            .await
            .expect("update");
    }

    let stale = browser.call("unlink_identity", &[("identity", dev2.as_str())]).await;

    assert_eq!(stale.status(), StatusCode::FORBIDDEN, "the hydrated page gets the status");
    assert_eq!(stale.json::<serde_json::Value>().await.expect("JSON"), serde_json::json!("RecentSignInNeeded"));
    let stale = browser.submit("unlink_identity", &[("identity", dev2.as_str())]).await;
    let page = browser.page_after(stale).await;
    assert!(page.contains("Sign in again with Dev provider"), "{page}");
    assert_eq!(app.identities().await, 2, "nothing was unlinked");

    browser.sign_in_with("dev", &Person::ada()).await;
    let fresh = browser.submit("unlink_identity", &[("identity", dev2.as_str())]).await;

    assert_eq!(location(&fresh).query(), Some("done=unlinked"));
    assert_eq!(app.identities().await, 1);
    let activity = app.activity(&browser, 0).await;
    assert_eq!(
        activity.events[0].kind,
        latchkey::latchkey_server::types::ActivityKind::IdentityUnlinked,
        "newest first"
    );
}

async fn a_verified_email_match_waits_for_the_owner_to_link_it(app: TestApp) {
    let owner = app.browser();
    owner.sign_in_with("dev", &Person::ada()).await;
    let browser = app.browser();

    // A new identity elsewhere with the same verified email: no second account, no merge.
    let response = browser.sign_in_with("dev2", &Person::ada()).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.expect("a page");
    assert!(page.contains("An account with the email ada@example.test already exists"), "{page}");
    assert!(page.contains("Sign in with Dev provider"), "{page}");
    assert_eq!(app.users().await, 1);
    assert_eq!(app.identities().await, 1);
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED, "not signed in to anything");

    // The person proves they own the account, then links in one click.
    browser.sign_in_with("dev", &Person::ada()).await;
    let browser_token = browser.cookie("latchkey_login");
    let pending = app
        .latchkey
        .accounts()
        .pending_link(&app.session(&browser).await, browser_token.as_deref())
        .await
        .expect("query")
        .expect("offered");
    assert_eq!(pending.provider, "dev2");
    let confirmed = browser.submit("confirm_pending_link", &[]).await;

    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.users().await, 1);
    assert_eq!(app.identities().await, 2);
    let other = app.browser();
    other.sign_in_with("dev2", &Person::ada()).await;
    assert_eq!(other.me().await.1["user"]["id"], owner.me().await.1["user"]["id"]);
}

async fn an_unverified_email_never_matches_an_account(app: TestApp) {
    app.browser().sign_in_with("dev", &Person::ada()).await;
    let mut impostor = Person::ada();
    impostor.email_verified = false;

    let browser = app.browser();
    let response = browser.sign_in_with("dev2", &impostor).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER, "a separate account");
    assert_eq!(app.users().await, 2);
}

async fn two_browsers_signing_up_the_same_identity_at_once_end_with_one_user(app: TestApp) {
    let first = app.browser();
    let second = app.browser();
    let first_callback = first.approved_callback(&Person::ada()).await;
    let second_callback = second.approved_callback(&Person::ada()).await;

    let (a, b) = tokio::join!(first.follow(&first_callback), second.follow(&second_callback));

    assert_eq!(a.status(), StatusCode::SEE_OTHER);
    assert_eq!(b.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.users().await, 1, "the unique key on (issuer, subject) decides, not luck");
    assert_eq!(app.identities().await, 1);
    assert_eq!(first.me().await.1["user"]["id"], second.me().await.1["user"]["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_trusted_for_email_links_automatically() {
    let app = TestApp::spawn_with(Backend::Sqlite, Options { dev_idp_trusts_email: true, ..Default::default() }).await;
    let owner = app.browser();
    owner.sign_in_with("dev", &Person::ada()).await;

    let browser = app.browser();
    let response = browser.sign_in_with("dev2", &Person::ada()).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.users().await, 1);
    assert_eq!(app.identities().await, 2);
    assert_eq!(browser.me().await.1["user"]["id"], owner.me().await.1["user"]["id"]);
}

#[tokio::test]
async fn linking_from_another_site_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_with("dev", &Person::ada()).await;

    let response = browser
        .client
        .post(app.url("/auth/dev2/link"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("an answer");

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// Another server signs up the same identity and has inserted it but not committed when
/// this one's sign-up inserts: the loser runs again, finds the winner's identity, and signs
/// in to that account. PostgreSQL only: it is where two servers race on the unique key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_that_loses_the_race_for_its_identity_signs_in_to_the_winners_account() {
    use latchkey::latchkey_server::storage::entities::{identity, user};
    use sea_orm::{ActiveModelTrait, ConnectionTrait, Set, Statement, TransactionTrait};

    let Some(app) = TestApp::try_spawn(Backend::Postgres, Options::default()).await else {
        return crate::support::skip_postgres(module_path!());
    };
    let browser = app.browser();
    let callback = browser.approved_callback(&Person::ada()).await;
    let now = chrono::Utc::now();
    let winner = uuid::Uuid::new_v4().to_string();
    let outside = app.outside_connection().await;
    let other_server = outside.begin().await.expect("a transaction");
    user::ActiveModel {
        id: Set(winner.clone()),
        display_name: Set("Ada (the other server)".into()),
        email: Set(None),
        picture: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        disabled_at: Set(None),
    }
    .insert(&other_server)
    .await
    .expect("the winner's user");
    identity::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(winner.clone()),
        provider_id: Set("dev".into()),
        issuer: Set(app.dev_idp().issuer().as_str().trim_end_matches('/').to_string()),
        subject: Set(latchkey::latchkey_dev_idp::subject_for_email(&Person::ada().email)),
        name: Set(None),
        email: Set(None),
        email_verified: Set(false),
        picture: Set(None),
        created_at: Set(now),
        last_used_at: Set(now),
    }
    .insert(&other_server)
    .await
    .expect("the winner's identity, not committed yet");

    let this_server = tokio::spawn({
        let browser = browser.clone();
        async move { browser.follow(&callback).await }
    });
    // Until this server's insert of the same identity (one of the sign-up's writes, sent as
    // one statement) waits on the other's uncommitted row.
    let waiting = Statement::from_string(
        sea_orm::DatabaseBackend::Postgres,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO \"identities\"%'",
    );
    let mut waited = 0;
    loop {
        let row = app.db.query_one(waiting.clone()).await.expect("pg_stat_activity").expect("a row");
        if row.try_get::<i64>("", "n").expect("a count") > 0 {
            break;
        }
        waited += 1;
        assert!(waited < 500, "this server's sign-up never reached its insert");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    other_server.commit().await.expect("the other server commits");
    let response = this_server.await.expect("the sign-in finishes");

    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signed in, not refused");
    assert_eq!(app.me(&browser).await.id, winner.as_str(), "to the winner's account");
    assert_eq!(app.users().await, 1, "the loser's user was rolled back");
    assert_eq!(app.identities().await, 1);
}

/// Two unlinks at the same moment, of the account's only two identities: one of them must be
/// refused (on PostgreSQL both transactions could count two identities before either deletes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_unlinks_at_once_never_leave_an_account_without_an_identity() {
    for round in 0..5 {
        let Some(app) = TestApp::try_spawn(Backend::Postgres, Options::default()).await else {
            return crate::support::skip_postgres(module_path!());
        };
        let browser = app.browser();
        browser.sign_in_with("dev", &Person::ada()).await;
        browser.link("dev2", &ada_at_work()).await;
        let session = app.session(&browser).await;
        let ids: Vec<String> = app.me(&browser).await.identities.iter().map(|i| i.id.to_string()).collect();
        assert_eq!(ids.len(), 2, "round {round} starts with two identities");

        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let unlinks: Vec<_> = ids
            .into_iter()
            .map(|id| {
                let (latchkey, session, barrier) = (app.latchkey.clone(), session.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    latchkey.accounts().unlink(&session, &id, &Default::default()).await
                })
            })
            .collect();
        let mut refused = 0;
        for unlink in unlinks {
            if unlink.await.expect("the task finishes").is_err() {
                refused += 1;
            }
        }

        assert_eq!(app.identities().await, 1, "round {round}: one identity is left");
        assert_eq!(refused, 1, "round {round}: one of the two unlinks was refused");
    }
}
