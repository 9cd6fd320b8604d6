//! The account's forms are server functions that work two ways: posted by a page without
//! JavaScript (a redirect back, the outcome in the query, the page saying it), and called
//! by the hydrated page (a status and a typed error).

use reqwest::StatusCode;

use crate::support::{Backend, Person, TestApp, location};

#[tokio::test]
async fn without_javascript_a_refused_display_name_comes_back_to_the_page_and_changes_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    let response = browser.submit("update_display_name", &[("display_name", "   ")]).await;

    assert_eq!(location(&response).path(), "/profile");
    assert_eq!(location(&response).query(), Some("form=name&problem=display_name_empty"));
    let page = browser.page_after(response).await;
    assert!(page.contains("Display name cannot be empty."), "{page}");
    assert_eq!(app.me(&browser).await.name, "Ada Lovelace", "nothing changed");
}

#[tokio::test]
async fn without_javascript_a_saved_display_name_comes_back_saved() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    let response = browser.submit("update_display_name", &[("display_name", " Countess ")]).await;

    assert_eq!(location(&response).query(), Some("done=name"));
    let page = browser.page_after(response).await;
    assert!(page.contains("Saved."), "{page}");
    assert_eq!(app.me(&browser).await.name, "Countess");
}

#[tokio::test]
async fn the_hydrated_page_gets_the_status_and_the_typed_error() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    let refused = browser.call("update_display_name", &[("display_name", &"x".repeat(101))]).await;

    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: serde_json::Value = refused.json().await.expect("JSON");
    assert_eq!(error, serde_json::json!({ "DisplayName": "too_long" }));
    assert_eq!(app.me(&browser).await.name, "Ada Lovelace", "nothing changed");
}

#[tokio::test]
async fn without_a_session_an_account_change_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let stranger = app.browser();

    let refused = stranger.call("delete_account", &[]).await;
    let redirected = stranger.submit("update_display_name", &[("display_name", "Mallory")]).await;

    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(location(&redirected).query(), Some("form=name&problem=sign_in_needed"));
    assert_eq!(app.users().await, 0);
}

#[tokio::test]
async fn a_cross_site_post_without_origin_to_a_server_function_changes_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    // A browser always names the site a request comes from: `Sec-Fetch-Site` where it
    // sends no `Origin`.
    let response = browser
        .request(reqwest::Method::POST, "/api/update_display_name")
        .header("sec-fetch-site", "cross-site")
        .form(&[("display_name", "Mallory")])
        .send()
        .await
        .expect("an answer");

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.me(&browser).await.name, "Ada Lovelace", "nothing changed");
}

#[tokio::test]
async fn nobody_can_end_unlink_or_refresh_what_belongs_to_someone_else() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ada = app.browser();
    ada.sign_in_with("dev", &Person::ada()).await;
    ada.link("dev2", &Person::new("Ada at work", "ada@work.example")).await;
    let grace = app.browser();
    grace.sign_in_with("dev", &Person::grace()).await;
    grace.link("dev2", &Person::new("Grace at work", "grace@work.example")).await;
    let ada_session = app.session(&ada).await.record.id;
    let ada_identity = app.me(&ada).await.identities[1].id.to_string();
    let refreshes = app.dev_idps[1].refresh_count();

    let revoke = grace.call("revoke_session", &[("session_id", &ada_session)]).await;
    let unlink = grace.call("unlink_identity", &[("identity", &ada_identity)]).await;
    let refresh = grace.call("refresh_identity_profile", &[("identity", &ada_identity)]).await;

    for refused in [revoke, unlink, refresh] {
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{}", refused.url());
    }
    assert_eq!(ada.me().await.0, StatusCode::OK, "Ada's session goes on");
    assert_eq!(app.me(&ada).await.identities.len(), 2, "Ada keeps both identities");
    assert_eq!(app.identities().await, 4);
    assert_eq!(app.dev_idps[1].refresh_count(), refreshes, "nothing was asked of the provider");
}

#[tokio::test]
async fn only_a_mounted_development_provider_is_outside_the_same_site_guard() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    let cross_site_post = |path: &'static str| {
        browser.request(reqwest::Method::POST, path).header("origin", "https://evil.example").form(&[("x", "1")]).send()
    };

    let unmounted = cross_site_post("/dev-idp3/authorize").await.expect("an answer");
    let mounted = cross_site_post("/dev-idp/authorize").await.expect("an answer");

    assert_eq!(unmounted.status(), StatusCode::FORBIDDEN, "no provider there: the guard answers");
    assert_ne!(mounted.status(), StatusCode::FORBIDDEN, "the provider stands in for another site");
}
