//! The server-rendered pages.

use reqwest::StatusCode;

use crate::support::{Backend, Person, TestApp, location};

#[tokio::test]
async fn the_home_page_offers_a_sign_in_button_per_provider() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let response = app.browser().get("/").await;

    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("html");
    assert!(html.contains("Sign in with Dev provider"), "{html}");
    assert!(html.contains("/auth/dev/login"), "{html}");
}

#[tokio::test]
async fn the_profile_redirects_to_home_when_signed_out() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let response = app.browser().get("/profile").await;

    assert!(response.status().is_redirection(), "got {}", response.status());
    assert_eq!(location(&response).path(), "/");
}

#[tokio::test]
async fn the_profile_shows_the_signed_in_person() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::new("Katherine Johnson", "katherine@example.test")).await;

    let response = browser.get("/profile").await;

    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("html");
    assert!(html.contains("Katherine Johnson"), "{html}");
    assert!(html.contains("katherine@example.test"));
    assert!(html.contains("Sign out"));
}

#[tokio::test]
async fn the_account_navigation_marks_the_page_shown_as_current_and_only_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    for page in ["/profile", "/accounts", "/sessions", "/activity"] {
        let html = browser.get(page).await.text().await.expect("html");

        let current: Vec<&str> = html.match_indices("aria-current=\"page\"").map(|(at, _)| &html[..at]).collect();
        assert_eq!(current.len(), 1, "{page}: one link is current");
        assert!(current[0].ends_with(&format!("<a href=\"{page}\" ")), "{page}: its own link is the current one");
    }
}

#[tokio::test]
async fn every_page_is_one_document_titled_for_itself() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    for (page, title) in [
        ("/", "latchkey: sign in with the accounts you already have"),
        ("/profile", "Your profile · latchkey"),
        ("/accounts", "Linked accounts · latchkey"),
        ("/sessions", "Sessions · latchkey"),
        ("/activity", "Security activity · latchkey"),
        ("/no-such-page", "Page not found · latchkey"),
    ] {
        let html = browser.get(page).await.text().await.expect("html");

        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\"><head>"), "{page}: {html}");
        assert!(html.ends_with("</body></html>"), "{page}: {html}");
        let head = &html[..html.find("</head>").expect("a head")];
        assert_eq!(head.matches("<title>").count(), 1, "{page}: one title");
        assert!(head.contains(&format!("<title>{title}</title>")), "{page}: {head}");
        assert_eq!(html.matches("<body>").count(), 1, "{page}: one body");
    }
}

#[tokio::test]
async fn this_session_shows_the_identity_signed_in_with_when_two_share_a_provider() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    // A second account at the same provider; linking renews the session with it.
    let linked = browser.link("dev", &Person::grace()).await;
    assert_eq!(linked.status(), StatusCode::SEE_OTHER);

    let html = browser.get("/profile").await.text().await.expect("html");

    let this_session = section(&html, "session-title");
    assert!(this_session.contains("grace@example.test"), "{this_session}");
    assert!(!this_session.contains("ada@example.test"), "{this_session}");
}

/// The `<section>` labelled by the heading with this id.
fn section<'a>(html: &'a str, heading_id: &str) -> &'a str {
    let start = html.find(&format!("aria-labelledby=\"{heading_id}\"")).expect("the section is on the page");
    let end = html[start..].find("</section>").map_or(html.len(), |end| start + end);
    &html[start..end]
}

/// Diagnostic, not part of the suite: signed-in page loads from 8 browsers at once, to catch
/// a stalled render (`cargo test --test app stress -- --ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn stress_the_account_pages() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut browsers = Vec::new();
    for _ in 0..8 {
        let browser = app.browser();
        browser.sign_in_as(&Person::ada()).await;
        browsers.push(browser);
    }
    let loads = browsers.into_iter().map(|browser| {
        tokio::spawn(async move {
            let mut stalled = Vec::new();
            for n in 0..100 {
                let path = ["/accounts", "/profile", "/sessions", "/activity"][n % 4];
                let load = tokio::time::timeout(std::time::Duration::from_secs(5), browser.get(path)).await;
                match load {
                    Ok(response) => assert_eq!(response.status(), StatusCode::OK),
                    Err(_) => stalled.push(path),
                }
            }
            stalled
        })
    });
    let mut stalled = Vec::new();
    for load in loads.collect::<Vec<_>>() {
        stalled.extend(load.await.expect("the browser finishes"));
    }
    assert!(stalled.is_empty(), "stalled page loads: {stalled:?}");
}

#[tokio::test]
async fn no_page_or_api_answer_that_shows_a_person_is_stored() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    for path in ["/profile", "/accounts", "/sessions", "/activity", "/api/me", "/"] {
        let response = browser.get(path).await;
        let cache = response.headers().get("cache-control").and_then(|v| v.to_str().ok()).map(str::to_string);
        assert_eq!(cache.as_deref(), Some("no-store"), "{path}");
    }
}

/// The policy of a response, and the nonce its `script-src` names.
fn csp_nonce(response: &reqwest::Response) -> (String, String) {
    let policy = response.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("");
    let nonce = policy
        .split(';')
        .find_map(|directive| directive.trim().strip_prefix("script-src 'nonce-"))
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or("")
        .to_string();
    (policy.to_string(), nonce)
}

#[tokio::test]
async fn every_page_has_a_content_security_policy_whose_fresh_nonce_only_its_own_scripts_carry() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let mut nonces = Vec::new();

    for path in ["/profile", "/accounts", "/sessions", "/activity", "/", "/no-such-page", "/auth/nobody/login"] {
        let response = browser.get(path).await;
        let (policy, nonce) = csp_nonce(&response);
        for directive in ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'self'"] {
            assert!(policy.contains(directive), "{path}: {directive} in {policy}");
        }
        assert!(!policy.contains("'unsafe-inline'") && !policy.contains("'unsafe-eval'"), "{path}: {policy}");
        assert_eq!(nonce.len(), 22, "{path}: a 128-bit nonce in {policy}");
        let page = response.text().await.expect("a page");
        let scripts = page.matches("<script").count();
        let carrying = page.matches(&format!("nonce=\"{nonce}\"")).count();
        assert!(carrying >= scripts, "{path}: every script carries it ({carrying} of {scripts})");
        assert_eq!(page.matches("nonce=\"").count(), carrying, "{path}: no other nonce");
        nonces.push(nonce);
    }

    let distinct: std::collections::HashSet<_> = nonces.iter().collect();
    assert_eq!(distinct.len(), nonces.len(), "a new nonce for every response");
}
