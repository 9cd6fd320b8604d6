//! What the README promises and no other test shows, one test each.

use chrono::TimeDelta;
use latchkey::latchkey_server::Config;
use latchkey::latchkey_server::http::cookies;
use latchkey::latchkey_server::storage::entities::{pending_login, provider_token, session, user};
use latchkey::latchkey_server::tokens::{Sealed, TokenColumn};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::support::{Backend, Person, TestApp, USER_AGENT, location, sha256_hex};

#[test]
fn on_https_the_cookies_carry_the_host_prefix_and_secure() {
    let https = Config::from_values([
        ("LATCHKEY_ENV", "production"),
        ("LATCHKEY_PUBLIC_URL", "https://id.example.test"),
        ("LATCHKEY_SECRET_KEY", &"ab".repeat(32)),
        ("LATCHKEY_DATABASE_URL", "postgres://db/latchkey"),
    ])
    .expect("a valid production configuration");
    let http = Config::from_values([("LATCHKEY_PUBLIC_URL", "http://127.0.0.1:3000")]).expect("valid");

    for cookie in [cookies::session_cookie(&https, "t".into()), cookies::login_cookie(&https, "t".into())] {
        assert!(cookie.name().starts_with("__Host-latchkey_"), "{cookie}");
        assert_eq!((cookie.secure(), cookie.http_only(), cookie.path()), (Some(true), Some(true), Some("/")));
        assert_eq!(cookie.domain(), None, "no Domain: the __Host- prefix forbids it");
    }
    let plain = cookies::session_cookie(&http, "t".into());
    assert_eq!((plain.name(), plain.secure()), ("latchkey_session", Some(false)));
}

#[tokio::test]
async fn a_pending_sign_in_keeps_only_the_hash_of_a_256_bit_state_for_ten_minutes() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let authorize = app.browser().start_sign_in(None).await;

    let param = |name: &str| authorize.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let (state, nonce) = (param("state").expect("a state"), param("nonce").expect("a nonce"));
    assert_eq!((state.len(), nonce.len()), (43, 43), "256 bits each, base64url");
    let pending = pending_login::Entity::find().all(&app.db).await.expect("query");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].state_hash, sha256_hex(&state), "only the hash of state is stored");
    assert_eq!(pending[0].expires_at - pending[0].created_at, TimeDelta::minutes(10));
}

#[tokio::test]
async fn a_session_ends_at_the_configured_absolute_time_and_its_token_is_256_bits() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();

    browser.sign_in_as(&Person::ada()).await;

    let token = browser.session_cookie().expect("a session cookie");
    assert_eq!(token.len(), 43, "256 bits, base64url");
    let stored = session::Entity::find().one(&app.db).await.expect("query").expect("a session");
    let lifetime = TimeDelta::from_std(app.latchkey.config().sessions.absolute_timeout).expect("in range");
    assert_eq!(stored.expires_at - stored.created_at, lifetime);
}

#[tokio::test]
async fn a_provider_error_other_than_access_denied_is_reported_and_signs_nobody_in() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    let authorize = browser.start_sign_in(None).await;
    let state = authorize.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).expect("a state");

    let response = browser.get(&format!("/auth/dev/callback?state={state}&error=temporarily_unavailable")).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.expect("a page");
    assert!(page.contains("Dev provider reported a problem (it is temporarily unavailable)"), "{page}");
    app.assert_nobody_signed_in().await;
}

#[tokio::test]
async fn refresh_tokens_are_stored_sealed_too() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let identity = app.me(&browser).await.identities[0].id.to_string();

    let row = provider_token::Entity::find_by_id(identity.clone()).one(&app.db).await.expect("q").expect("a row");

    let sealed = row.refresh_token.clone().expect("the provider issued a refresh token");
    let opened = app
        .latchkey
        .tokens()
        .cipher()
        .open(&Sealed { key_id: row.key_id.clone(), ciphertext: sealed.clone() }, &identity, TokenColumn::Refresh)
        .expect("opens with the app's key, on its own row");
    assert!(opened.len() >= 20 && !sealed.contains(&opened), "only ciphertext is stored");
}

#[tokio::test]
async fn the_linked_accounts_page_shows_the_granted_scopes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    let page = browser.get("/accounts").await.text().await.expect("html");

    for scope in ["openid", "email", "profile"] {
        assert!(page.contains(&format!(r#"<code class="scope">{scope}<"#)), "{scope}: {page}");
    }
}

#[tokio::test]
async fn deleting_the_account_needs_a_recent_sign_in() {
    use sea_orm::sea_query::Expr;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    session::Entity::update_many()
        .col_expr(session::Column::CreatedAt, Expr::value(chrono::Utc::now() - TimeDelta::minutes(11)))
        .exec(&app.db)
        .await
        .expect("age the session");

    let response = browser.submit("delete_account", &[("confirm", "yes")]).await;

    assert_eq!(location(&response).query(), Some("form=deleted&problem=recent_sign_in_needed"));
    assert_eq!(user::Entity::find().count(&app.db).await.expect("count"), 1, "the account is still there");
    assert_eq!(browser.me().await.0, StatusCode::OK, "and so is the session");
}

#[tokio::test]
async fn the_activity_log_records_the_address_and_browser_of_a_sign_in() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();

    browser.sign_in_as(&Person::ada()).await;

    let activity = app.activity(&browser, 0).await;
    assert_eq!(activity.events[0].ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(activity.events[0].user_agent.as_deref(), Some(USER_AGENT));
}

#[tokio::test]
async fn a_waiting_identity_is_offered_for_ten_minutes_in_the_browser_it_arrived_in_only() {
    use latchkey::latchkey_server::storage::entities::pending_link;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let owner = app.browser();
    owner.sign_in_with("dev", &Person::ada()).await;
    let browser = app.browser();
    browser.sign_in_with("dev2", &Person::ada()).await;

    // The owner's other browser is signed in to the same account, but the identity arrived
    // in `browser`.
    let elsewhere = owner.get("/accounts").await.text().await.expect("html");
    browser.sign_in_with("dev", &Person::ada()).await;
    let here = browser.get("/accounts").await.text().await.expect("html");

    assert!(!elsewhere.contains("Link your Dev provider 2 account"), "not offered elsewhere: {elsewhere}");
    assert!(here.contains("Link your Dev provider 2 account"), "offered where it arrived: {here}");
    let waiting = pending_link::Entity::find().all(&app.db).await.expect("query");
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].expires_at - waiting[0].created_at, TimeDelta::minutes(10));
}

#[tokio::test]
async fn latchkey_follows_no_redirect_from_a_provider() {
    use axum::response::Redirect;
    use axum::routing::get;
    // A provider whose discovery address redirects to a discovery document that would do:
    // it names this provider as its issuer, and the rest is a working fake's.
    let real = crate::fakes::oidc::FakeOidc::google().await;
    let (listener, redirecting) = crate::fakes::listen().await;
    let mut document: serde_json::Value = reqwest::get(format!("{}/.well-known/openid-configuration", real.issuer()))
        .await
        .expect("the fake's discovery")
        .json()
        .await
        .expect("JSON");
    document["issuer"] = serde_json::Value::String(redirecting.clone());
    let router = axum::Router::new()
        .route("/.well-known/openid-configuration", get(|| async { Redirect::temporary("/moved") }))
        .route("/moved", get(move || async move { axum::Json(document) }));
    crate::fakes::serve(listener, router).await;
    let mut variables = real.variables("CORP", "oidc");
    for (name, value) in &mut variables {
        if name.ends_with("_ISSUER") {
            *value = redirecting.clone();
        }
    }
    let app = crate::fakes::ProviderApp::spawn(variables).await;

    let response = app.browser().get(&app.base.join("/auth/corp/login").expect("a URL")).await;

    assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "the redirect is not followed");
    assert!(response.text().await.expect("a page").contains("is not responding"));
    app.assert_nobody_signed_in().await;
}
