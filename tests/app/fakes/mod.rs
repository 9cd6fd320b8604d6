//! Local stand-ins for Google, Microsoft and GitHub, and a latchkey configured to use them.
//!
//! Each fake is an axum server on 127.0.0.1:0 inside the test. It checks what latchkey sends
//! (PKCE, client authentication, headers, single-use codes) and, when something is wrong,
//! records a problem and fails the request — so the sign-in fails and so does the test, and
//! [`Problems::assert_none`] says why.

pub mod github;
pub mod oidc;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use latchkey::Application;
use latchkey::latchkey_dev_idp::pkce_challenge;
use latchkey::latchkey_server::Config;
use latchkey::latchkey_server::storage::Writer;
use latchkey::latchkey_server::storage::entities::{identity, session, user};
use sea_orm::{EntityTrait, PaginatorTrait};
use url::Url;

use crate::support::location;

/// Serves `router` on `listener` in the background, for the rest of the test.
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router) {
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
}

/// A loopback listener and its base URL, `http://127.0.0.1:<port>`.
pub async fn listen() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let base = format!("http://{}", listener.local_addr().expect("a bound address"));
    (listener, base)
}

/// What a fake found wrong in latchkey's requests.
#[derive(Clone, Default)]
pub struct Problems(Arc<Mutex<Vec<String>>>);

impl Problems {
    /// Records the problem and returns the response that fails the request.
    pub fn fail(&self, problem: impl Into<String>) -> (StatusCode, String) {
        let problem = problem.into();
        self.0.lock().expect("problems").push(problem.clone());
        (StatusCode::BAD_REQUEST, format!("{{\"error\":\"invalid_request\",\"error_description\":\"{problem}\"}}"))
    }

    pub fn assert_none(&self) {
        let problems = self.0.lock().expect("problems");
        assert!(problems.is_empty(), "the fake provider saw bad requests: {problems:#?}");
    }
}

/// Checks `Authorization: Basic base64(client_id:client_secret)` (client_secret_basic).
fn check_basic_auth(headers: &HeaderMap, client_id: &str, client_secret: &str) -> Result<(), String> {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("the token request has no Authorization header (client_secret_basic expected)")?;
    let encoded = value.strip_prefix("Basic ").ok_or("the token request's Authorization is not Basic")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "the Basic credentials are not base64")?;
    if decoded != format!("{client_id}:{client_secret}").as_bytes() {
        return Err("the Basic credentials are not this client's".into());
    }
    Ok(())
}

/// Checks the PKCE verifier against the challenge sent to the authorize endpoint.
fn check_pkce(challenge: &str, verifier: Option<&String>) -> Result<(), String> {
    let verifier = verifier.ok_or("the token request has no code_verifier")?;
    if !(43..=128).contains(&verifier.len()) {
        return Err(format!("the code_verifier has {} characters (43 to 128 expected)", verifier.len()));
    }
    if pkce_challenge(verifier) != challenge {
        return Err("the code_verifier does not match the code_challenge".into());
    }
    Ok(())
}

/// A refused request: recorded in [`Problems`], answered 400.
pub type Refusal = (StatusCode, String);

/// An authorization request that passed the checks every fake makes.
pub struct Approval {
    pub state: String,
    pub nonce: Option<String>,
    code_challenge: String,
    redirect_uri: String,
}

/// Checks an authorization request: this client, the code flow, `required_scope` among the
/// scopes, PKCE with S256, and a state and redirect URI.
pub fn check_authorize(
    problems: &Problems,
    params: &HashMap<String, String>,
    client_id: &str,
    required_scope: &str,
) -> Result<Approval, Refusal> {
    let param = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    if param("client_id").as_deref() != Some(client_id) {
        return Err(problems.fail("authorize: wrong or missing client_id"));
    }
    if param("response_type").as_deref() != Some("code") {
        return Err(problems.fail("authorize: response_type is not `code`"));
    }
    if !param("scope").is_some_and(|scope| scope.split(' ').any(|s| s == required_scope)) {
        return Err(problems.fail(format!("authorize: the scope has no `{required_scope}`")));
    }
    if param("code_challenge_method").as_deref() != Some("S256") {
        return Err(problems.fail("authorize: code_challenge_method is not S256"));
    }
    let (Some(code_challenge), Some(state), Some(redirect_uri)) =
        (param("code_challenge"), param("state"), param("redirect_uri"))
    else {
        return Err(problems.fail("authorize: code_challenge, state or redirect_uri missing"));
    };
    Ok(Approval { state, nonce: param("nonce"), code_challenge, redirect_uri })
}

/// Authorization codes waiting for their token request, each with what the fake answers then.
pub struct Codes<T>(Mutex<HashMap<String, (Approval, T)>>);

impl<T> Default for Codes<T> {
    fn default() -> Self {
        Codes(Mutex::default())
    }
}

impl<T> Codes<T> {
    /// Issues a code for an approved request; returns the redirect back with `code` and `state`.
    pub fn issue(&self, approval: Approval, grant: T) -> Url {
        let code = uuid::Uuid::new_v4().simple().to_string();
        let mut back = Url::parse(&approval.redirect_uri).expect("a redirect URI");
        back.query_pairs_mut().append_pair("code", &code).append_pair("state", &approval.state);
        self.0.lock().expect("codes").insert(code, (approval, grant));
        back
    }

    /// Redeems a code at the token endpoint: client_secret_basic, the code grant, a code used
    /// once, the authorization request's redirect URI, and the PKCE verifier.
    pub fn redeem(
        &self,
        problems: &Problems,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
        (client_id, client_secret): (&str, &str),
    ) -> Result<T, Refusal> {
        check_basic_auth(headers, client_id, client_secret)
            .map_err(|problem| problems.fail(format!("token: {problem}")))?;
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return Err(problems.fail("token: grant_type is not authorization_code"));
        }
        let redeemed = form.get("code").and_then(|code| self.0.lock().expect("codes").remove(code));
        let Some((approval, grant)) = redeemed else {
            return Err(problems.fail("token: unknown or reused code"));
        };
        if form.get("redirect_uri") != Some(&approval.redirect_uri) {
            return Err(problems.fail("token: redirect_uri differs from the authorization request's"));
        }
        check_pkce(&approval.code_challenge, form.get("code_verifier"))
            .map_err(|problem| problems.fail(format!("token: {problem}")))?;
        Ok(grant)
    }
}

/// A whole latchkey (SQLite in a temporary directory) configured with `providers`
/// (`("LATCHKEY_PROVIDER_…", value)` pairs) and no development provider.
pub struct ProviderApp {
    pub base: Url,
    pub db: Writer,
    _data_dir: tempfile::TempDir,
    _one_app_at_a_time: tokio::sync::OwnedMutexGuard<()>,
}

impl ProviderApp {
    pub async fn spawn<K: Into<String>, V: Into<String>>(providers: impl IntoIterator<Item = (K, V)>) -> ProviderApp {
        let one_app_at_a_time = crate::support::one_app_at_a_time().await;
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let mut values: Vec<(String, String)> = vec![
            ("LEPTOS_SITE_ADDR".into(), address.to_string()),
            ("LATCHKEY_PUBLIC_URL".into(), format!("http://{address}")),
            (
                "LATCHKEY_DATABASE_URL".into(),
                format!("sqlite://{}?mode=rwc", data_dir.path().join("latchkey.db").display()),
            ),
            ("LATCHKEY_DATA_DIR".into(), data_dir.path().display().to_string()),
            ("LATCHKEY_IDP_TIMEOUT_SECONDS".into(), "2".into()),
        ];
        values.extend(providers.into_iter().map(|(k, v)| (k.into(), v.into())));
        let config = Config::from_values(values).expect("the test configuration is valid");
        let application = Application::build(config).await.expect("the app starts");
        let db = application.latchkey().db().writes().clone();
        tokio::spawn(application.serve(listener));
        ProviderApp {
            base: Url::parse(&format!("http://{address}")).expect("a URL"),
            db,
            _data_dir: data_dir,
            _one_app_at_a_time: one_app_at_a_time,
        }
    }

    pub fn browser(&self) -> AppBrowser {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("an HTTP client");
        AppBrowser { client, base: self.base.clone() }
    }

    pub async fn users(&self) -> u64 {
        user::Entity::find().count(&self.db).await.expect("count users")
    }
    pub async fn identities(&self) -> Vec<identity::Model> {
        identity::Entity::find().all(&self.db).await.expect("list identities")
    }
    pub async fn sessions(&self) -> u64 {
        session::Entity::find().count(&self.db).await.expect("count sessions")
    }

    pub async fn assert_nobody_signed_in(&self) {
        assert_eq!(self.users().await, 0, "no user was created");
        assert!(self.identities().await.is_empty(), "no identity was created");
        assert_eq!(self.sessions().await, 0, "no session was created");
    }
}

/// A browser with its own cookies that shows every redirect.
pub struct AppBrowser {
    pub client: reqwest::Client,
    base: Url,
}

impl AppBrowser {
    pub async fn get(&self, url: &Url) -> reqwest::Response {
        self.client.get(url.clone()).send().await.expect("the request completes")
    }

    /// `GET /auth/{provider}/login`: the provider's authorize URL latchkey redirects to.
    pub async fn start(&self, provider: &str) -> Url {
        let response = self.get(&self.base.join(&format!("/auth/{provider}/login")).expect("a URL")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in starts with a redirect to the provider");
        location(&response)
    }

    /// The whole flow: start, the fake's authorize endpoint (which approves at once and
    /// redirects back), then the callback; returns the callback's response.
    pub async fn sign_in(&self, provider: &str) -> reqwest::Response {
        let authorize = self.start(provider).await;
        let at_provider = self.get(&authorize).await;
        assert_eq!(
            at_provider.status(),
            StatusCode::SEE_OTHER,
            "the fake provider redirects back: {}",
            at_provider.text().await.unwrap_or_default()
        );
        let callback = location(&at_provider);
        assert!(callback.as_str().starts_with(self.base.as_str()), "back to latchkey: {callback}");
        self.get(&callback).await
    }

    /// `GET /api/me`: the status and, when 200, the body.
    pub async fn me(&self) -> (StatusCode, serde_json::Value) {
        let response = self.get(&self.base.join("/api/me").expect("a URL")).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// Asserts a sign-in succeeded: redirected into the app, signed in.
pub async fn assert_signed_in(browser: &AppBrowser, response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let body = if status == StatusCode::SEE_OTHER { String::new() } else { response.text().await.unwrap_or_default() };
    assert_eq!(status, StatusCode::SEE_OTHER, "the sign-in succeeds: {body}");
    let (status, me) = browser.me().await;
    assert_eq!(status, StatusCode::OK, "the browser is signed in");
    me
}

/// Asserts a sign-in was refused with `status` and the browser is not signed in.
pub async fn assert_refused(browser: &AppBrowser, response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "the sign-in is refused");
    assert!(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap_or_default().contains("latchkey_session=")),
        "no session cookie"
    );
    let page = response.text().await.expect("an error page");
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED, "the browser is not signed in");
    page
}
