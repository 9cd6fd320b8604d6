//! The HTTP endpoints: discovery, JWKS, authorize (GET page, POST decision),
//! token and userinfo. Handlers are thin; the logic is in plain functions.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

use super::jwt::{self, Signing};
use super::pages::{self, UserForm};
use super::params::{self, ParamError, Params};
use super::store::{ACCESS_TOKEN_LIFETIME, AccessGrant, CODE_LIFETIME, CodeGrant, Redemption, User};
use super::{DevIdp, Misbehaviour, now, random_token, subject_for_email};

/// The issuer the misbehaving provider claims to be (`iss` claim, `iss` parameter).
const OTHER_ISSUER: &str = "https://other-idp.example.test/dev-idp";
/// The audience / authorized party that is not latchkey.
const SOMEONE_ELSE: &str = "someone-else";
/// ID tokens live this long (seconds).
const ID_TOKEN_LIFETIME: i64 = 300;
/// How long `SlowTokenEndpoint` stalls.
const SLOW_TOKEN_DELAY: Duration = Duration::from_secs(30);
const SCOPES_SUPPORTED: [&str; 3] = ["openid", "email", "profile"];
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

// ---------------------------------------------------------------------------
// Discovery and keys
// ---------------------------------------------------------------------------

pub(super) async fn discovery(State(idp): State<DevIdp>) -> Response {
    let issuer = idp.issuer_str();
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": SCOPES_SUPPORTED,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash",
            "name", "email", "email_verified",
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    });
    axum::Json(doc).into_response()
}

pub(super) async fn jwks(State(idp): State<DevIdp>) -> Response {
    idp.count_jwks_fetch();
    let key = idp.key();
    axum::Json(json!({ "keys": [key.jwk()] })).into_response()
}

// ---------------------------------------------------------------------------
// Authorization endpoint
// ---------------------------------------------------------------------------

/// A validated authorization request.
#[derive(Debug)]
struct AuthzRequest<'a> {
    client_id: &'a str,
    redirect_uri: &'a str,
    state: &'a str,
    nonce: Option<&'a str>,
    code_challenge: &'a str,
    scope: &'a str,
}

#[derive(Debug)]
enum AuthzError {
    /// The client or redirect URI cannot be trusted: show a page, never redirect.
    Page(String),
    /// Report the error to the client through its registered redirect URI.
    Redirect { error: &'static str, description: String, state: Option<String> },
}

/// Validates an authorization request: the query of `GET /authorize`, or the
/// form of `POST /authorize` (`posted`).
fn validate_authz<'p>(idp: &DevIdp, p: &'p Params, posted: bool) -> Result<AuthzRequest<'p>, AuthzError> {
    let client = idp.client();
    let page = |e: ParamError| AuthzError::Page(e.describe());
    let client_id =
        p.single("client_id").map_err(page)?.ok_or_else(|| AuthzError::Page("The request has no client_id.".into()))?;
    if client_id != client.client_id {
        return Err(AuthzError::Page(format!("Unknown client_id “{client_id}”.")));
    }
    let redirect_uri = p
        .single("redirect_uri")
        .map_err(page)?
        .ok_or_else(|| AuthzError::Page("The request has no redirect_uri.".into()))?;
    if redirect_uri != client.redirect_uri {
        return Err(AuthzError::Page(format!(
            "The redirect_uri “{redirect_uri}” is not the one registered for this client."
        )));
    }

    // From here on, errors go back to the (now verified) redirect URI.
    let state = match p.single("state") {
        Ok(state) => state,
        Err(e) => return Err(invalid_request(e.describe(), None)),
    };
    let fail = |description: &str| invalid_request(description.to_owned(), state);
    let get = |name: &'static str| p.single(name).map_err(|e| fail(&e.describe()));

    // The consent form posts response_type back too, but a POST without it
    // (e.g. a test filling the form by hand) is fine.
    match get("response_type")? {
        Some("code") => {}
        None if posted => {}
        _ => return Err(fail("response_type must be code")),
    }
    let scope = get("scope")?.unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(fail("scope must include openid"));
    }
    let Some(state) = state else {
        return Err(fail("state is required"));
    };
    match get("code_challenge_method")? {
        Some("S256") => {}
        None => return Err(fail("code_challenge_method is required (PKCE with S256)")),
        Some(_) => return Err(fail("code_challenge_method must be S256")),
    }
    let code_challenge = get("code_challenge")?.ok_or_else(|| fail("code_challenge is required (PKCE with S256)"))?;
    if !params::is_pkce_string(code_challenge) {
        return Err(fail("code_challenge is malformed"));
    }
    let nonce = get("nonce")?;
    Ok(AuthzRequest { client_id, redirect_uri, state, nonce, code_challenge, scope })
}

fn invalid_request(description: String, state: Option<&str>) -> AuthzError {
    AuthzError::Redirect { error: "invalid_request", description, state: state.map(str::to_owned) }
}

pub(super) async fn authorize_get(State(idp): State<DevIdp>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let req = match validate_authz(&idp, &params, false) {
        Ok(req) => req,
        Err(e) => return authz_error_response(&idp, e),
    };
    // There is no session to reuse, so a silent request cannot succeed.
    match params.single("prompt") {
        Ok(Some(prompt)) if prompt.split(' ').any(|p| p == "none") => {
            return authz_redirect(
                &idp,
                &[
                    ("error", "login_required"),
                    ("error_description", "the development provider always asks"),
                    ("state", req.state),
                ],
            );
        }
        Ok(_) => {}
        Err(e) => {
            return authz_error_response(&idp, invalid_request(e.describe(), Some(req.state)));
        }
    }
    sign_in_page(&idp, &req, StatusCode::OK, &UserForm::DEFAULT, None)
}

pub(super) async fn authorize_post(State(idp): State<DevIdp>, body: Bytes) -> Response {
    let params = Params::parse(&body);
    let req = match validate_authz(&idp, &params, true) {
        Ok(req) => req,
        Err(e) => return authz_error_response(&idp, e),
    };
    let text = |name: &'static str| params.single(name).map(|v| v.unwrap_or_default().trim());
    let (name, email) = match (text("name"), text("email")) {
        (Ok(name), Ok(email)) => (name, email),
        (Err(e), _) | (_, Err(e)) => {
            return sign_in_page(&idp, &req, StatusCode::BAD_REQUEST, &UserForm::DEFAULT, Some(&e.describe()));
        }
    };
    let email_verified = matches!(params.single("email_verified"), Ok(Some("true" | "on")));
    let entered = UserForm { name, email, email_verified };
    match params.single("decision") {
        Ok(Some("deny")) => {
            return authz_redirect(
                &idp,
                &[
                    ("error", "access_denied"),
                    ("error_description", "The user denied the sign-in."),
                    ("state", req.state),
                ],
            );
        }
        Ok(Some("allow")) => {}
        _ => {
            let msg = "Choose Continue or Deny.";
            return sign_in_page(&idp, &req, StatusCode::BAD_REQUEST, &entered, Some(msg));
        }
    }
    if let Err(msg) = check_user(name, email) {
        return sign_in_page(&idp, &req, StatusCode::BAD_REQUEST, &entered, Some(msg));
    }

    let now = now();
    let code = random_token();
    let grant = CodeGrant {
        client_id: req.client_id.to_owned(),
        redirect_uri: req.redirect_uri.to_owned(),
        code_challenge: req.code_challenge.to_owned(),
        nonce: req.nonce.map(str::to_owned),
        scope: req.scope.to_owned(),
        user: User { sub: subject_for_email(email), name: name.to_owned(), email: email.to_owned(), email_verified },
        auth_time: now,
        expires_at: now + CODE_LIFETIME,
    };
    let inserted = idp.store().insert_code(&code, grant, now);
    if inserted.is_err() {
        return authz_redirect(
            &idp,
            &[
                ("error", "temporarily_unavailable"),
                ("error_description", "too many outstanding codes"),
                ("state", req.state),
            ],
        );
    }
    tracing::debug!(email, "dev identity provider issued an authorization code");
    authz_redirect(&idp, &[("code", &code), ("state", req.state)])
}

fn check_user(name: &str, email: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("Name must not be empty.");
    }
    if name.chars().count() > 200 {
        return Err("Name is too long.");
    }
    let plausible = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if !plausible {
        return Err("Email must look like an email address (name@domain).");
    }
    Ok(())
}

fn sign_in_page(
    idp: &DevIdp,
    req: &AuthzRequest<'_>,
    status: StatusCode,
    form: &UserForm<'_>,
    error: Option<&str>,
) -> Response {
    let hidden = [
        ("client_id", req.client_id),
        ("redirect_uri", req.redirect_uri),
        ("state", req.state),
        ("nonce", req.nonce.unwrap_or_default()),
        ("code_challenge", req.code_challenge),
        ("code_challenge_method", "S256"),
        ("scope", req.scope),
        ("response_type", "code"),
    ];
    let action = format!("{}/authorize", idp.issuer_str());
    let body = pages::authorize_page(&action, req.client_id, req.redirect_uri, &hidden, form, error);
    html(status, body)
}

fn authz_error_response(idp: &DevIdp, e: AuthzError) -> Response {
    match e {
        AuthzError::Page(message) => {
            tracing::debug!(%message, "dev identity provider refused an authorization request");
            html(StatusCode::BAD_REQUEST, pages::error_page(&message))
        }
        AuthzError::Redirect { error, description, state } => {
            let mut pairs = vec![("error", error), ("error_description", description.as_str())];
            if let Some(state) = &state {
                pairs.push(("state", state));
            }
            authz_redirect(idp, &pairs)
        }
    }
}

/// 303 to the registered redirect URI with `pairs` and `iss` appended.
fn authz_redirect(idp: &DevIdp, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(&idp.client().redirect_uri) else {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::error_page("The registered redirect_uri is not an absolute URL."),
        );
    };
    let iss = if idp.misbehaviour() == Misbehaviour::WrongIssParameter { OTHER_ISSUER } else { idp.issuer_str() };
    url.query_pairs_mut().extend_pairs(pairs.iter().copied()).append_pair("iss", iss);
    let Ok(location) = HeaderValue::from_str(url.as_str()) else {
        return html(StatusCode::INTERNAL_SERVER_ERROR, pages::error_page("Could not build the redirect."));
    };
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
    )
        .into_response()
}

fn html(status: StatusCode, body: String) -> Response {
    let headers: [(HeaderName, HeaderValue); 6] = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
    ];
    (status, headers, body).into_response()
}

// ---------------------------------------------------------------------------
// Token endpoint
// ---------------------------------------------------------------------------

/// An OAuth error answered by the token endpoint (RFC 6749 §5.2).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into() }
    }
    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }
    fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }
    fn from_param(e: ParamError) -> Self {
        Self::invalid_request(e.describe())
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, no_store(), axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"latchkey-dev-idp\""));
        }
        response
    }
}

fn no_store() -> [(HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

pub(super) async fn token(State(idp): State<DevIdp>, headers: HeaderMap, body: Bytes) -> Response {
    let misbehaviour = idp.misbehaviour();
    if misbehaviour == Misbehaviour::SlowTokenEndpoint {
        tokio::time::sleep(SLOW_TOKEN_DELAY).await;
    }
    match exchange(&idp, &headers, &body, misbehaviour) {
        Ok(answer) => (StatusCode::OK, no_store(), axum::Json(answer)).into_response(),
        Err(e) => {
            tracing::debug!(error = e.error, description = %e.description, "dev identity provider refused a token request");
            e.into_response()
        }
    }
}

/// The token request proper: client authentication, then the code grant.
fn exchange(idp: &DevIdp, headers: &HeaderMap, body: &[u8], misbehaviour: Misbehaviour) -> Result<Value, OAuthError> {
    if misbehaviour == Misbehaviour::TokenEndpointError {
        return Err(OAuthError::invalid_grant("the provider was told to fail"));
    }
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let media_type = content_type.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim();
        if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
        }
    }
    let p = Params::parse(body);
    let client_id = authenticate_client(idp, headers, &p)?;

    let get = |name: &'static str| p.single(name).map_err(OAuthError::from_param);
    match get("grant_type")? {
        Some("authorization_code") => {}
        Some("refresh_token") => {
            let refresh_token =
                get("refresh_token")?.ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
            return refresh(idp, client_id, refresh_token, misbehaviour);
        }
        None => return Err(OAuthError::invalid_request("grant_type is required")),
        Some(_) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code is supported",
            ));
        }
    }
    let code = get("code")?.ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let redirect_uri = get("redirect_uri")?;
    let verifier = get("code_verifier")?;

    let now = now();
    let redemption = idp.store().redeem_code(code);
    let grant = match redemption {
        Redemption::Unknown => return Err(OAuthError::invalid_grant("unknown or expired code")),
        Redemption::Replayed => return Err(OAuthError::invalid_grant("the code was already used")),
        Redemption::First(grant) => *grant,
    };
    if grant.expires_at <= now {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    if grant.client_id != client_id {
        return Err(OAuthError::invalid_grant("the code was issued to another client"));
    }
    if redirect_uri != Some(grant.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    let Some(verifier) = verifier else {
        return Err(OAuthError::invalid_grant("code_verifier is required"));
    };
    if !pkce_s256_matches(verifier, &grant.code_challenge) {
        return Err(OAuthError::invalid_grant("code_verifier does not match code_challenge"));
    }

    let access_token = random_token();
    let id_token = id_token(idp, &grant, &access_token, now, misbehaviour);
    let access = AccessGrant { user: grant.user.clone(), expires_at: now + ACCESS_TOKEN_LIFETIME };
    let recorded = idp.store().insert_access_token(code, &access_token, access, now);
    if recorded.is_err() {
        return Err(OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many live access tokens",
        ));
    }
    let refresh_token = random_token();
    let refresh_grant = super::store::RefreshGrant {
        user: grant.user.clone(),
        client_id: grant.client_id.clone(),
        scope: granted_scope(&grant.scope),
    };
    if idp.store().insert_refresh_token(&refresh_token, refresh_grant).is_err() {
        return Err(OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many refresh tokens",
        ));
    }
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "refresh_token": refresh_token,
        "id_token": id_token,
        "scope": granted_scope(&grant.scope),
    }))
}

/// `grant_type=refresh_token`: a new access token and a new refresh token (rotation); the
/// presented refresh token is spent.
fn refresh(
    idp: &DevIdp,
    client_id: &str,
    refresh_token: &str,
    misbehaviour: Misbehaviour,
) -> Result<Value, OAuthError> {
    if misbehaviour == Misbehaviour::RefreshRejected {
        return Err(OAuthError::invalid_grant("the refresh token was revoked"));
    }
    let Some(grant) = idp.store().take_refresh_token(refresh_token) else {
        return Err(OAuthError::invalid_grant("unknown or already used refresh token"));
    };
    if grant.client_id != client_id {
        return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
    }
    let now = now();
    let access_token = random_token();
    let next_refresh_token = random_token();
    let access = AccessGrant { user: grant.user.clone(), expires_at: now + ACCESS_TOKEN_LIFETIME };
    let mut store = idp.store();
    if store.insert_refreshed_access_token(&access_token, access, now).is_err()
        || store.insert_refresh_token(&next_refresh_token, grant.clone()).is_err()
    {
        return Err(OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many live tokens",
        ));
    }
    drop(store);
    idp.count_refresh();
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "refresh_token": next_refresh_token,
        "scope": grant.scope,
    }))
}

/// Client authentication by `client_secret_basic` or `client_secret_post`
/// (exactly one of them). Returns the authenticated client id.
fn authenticate_client<'a>(idp: &'a DevIdp, headers: &HeaderMap, p: &Params) -> Result<&'a str, OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            Some(parse_basic(value).ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?)
        }
    };
    let body_id = p.single("client_id").map_err(OAuthError::from_param)?;
    let body_secret = p.single("client_secret").map_err(OAuthError::from_param)?;
    let (id, secret) = match (basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request("use only one client authentication method"));
        }
        (Some((id, secret)), None) => {
            if body_id.is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_request("client_id in the body differs from the Basic credentials"));
            }
            (id, secret)
        }
        (None, Some(secret)) => {
            let id = body_id.ok_or_else(|| OAuthError::invalid_client("client_id is required"))?;
            (id.to_owned(), secret.to_owned())
        }
        (None, None) => {
            return Err(OAuthError::invalid_client("client authentication is required"));
        }
    };
    let client = idp.client();
    let id_ok = id.as_bytes().ct_eq(client.client_id.as_bytes());
    let secret_ok = secret.as_bytes().ct_eq(client.client_secret.as_bytes());
    if bool::from(id_ok & secret_ok) {
        Ok(&client.client_id)
    } else {
        Err(OAuthError::invalid_client("unknown client or wrong secret"))
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let credentials = credentials.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(credentials))
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((params::form_decode(id)?, params::form_decode(secret)?))
}

/// RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge.
fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    use sha2::Digest as _;
    if !params::is_pkce_string(verifier) {
        return false;
    }
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// The requested scopes this provider knows, in request order, without repeats.
fn granted_scope(requested: &str) -> String {
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split(' ') {
        if SCOPES_SUPPORTED.contains(&scope) && !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    granted.join(" ")
}

/// Builds and signs the ID token, applying the misbehaviour.
fn id_token(idp: &DevIdp, grant: &CodeGrant, access_token: &str, now: i64, misbehaviour: Misbehaviour) -> String {
    use Misbehaviour as M;
    let client_id = grant.client_id.as_str();
    let (iat, exp, auth_time) = match misbehaviour {
        M::Expired => (now - 3600, now - 1800, now - 3600),
        M::IssuedInFuture => (now + 3600, now + 3600 + ID_TOKEN_LIFETIME, grant.auth_time),
        _ => (now, now + ID_TOKEN_LIFETIME, grant.auth_time),
    };
    let iss = if misbehaviour == M::WrongIssuer { OTHER_ISSUER } else { idp.issuer_str() };
    let mut claims = json!({
        "iss": iss,
        "sub": grant.user.sub,
        "aud": client_id,
        "exp": exp,
        "iat": iat,
        "auth_time": auth_time,
        "at_hash": jwt::access_token_hash(access_token),
        "name": grant.user.name,
        "email": grant.user.email,
        "email_verified": grant.user.email_verified,
    });
    match misbehaviour {
        M::WrongAudience => claims["aud"] = json!("another-client"),
        M::ExtraAudience => {
            claims["aud"] = json!([client_id, SOMEONE_ELSE]);
            claims["azp"] = json!(client_id);
        }
        M::WrongAuthorizedParty => claims["azp"] = json!(SOMEONE_ELSE),
        _ => {}
    }
    match (misbehaviour, &grant.nonce) {
        (M::MissingNonce, _) => {}
        (M::WrongNonce, _) => claims["nonce"] = json!(random_token()),
        (_, Some(nonce)) => claims["nonce"] = json!(nonce),
        (_, None) => {}
    }
    let signing = match misbehaviour {
        M::ForgedSignature => Signing::Forged,
        M::AlgNone => Signing::AlgNone,
        M::HmacWithPublicKey => Signing::HmacWithPublicKey,
        _ => Signing::Es256,
    };
    idp.key().encode(signing, &claims)
}

// ---------------------------------------------------------------------------
// Userinfo endpoint
// ---------------------------------------------------------------------------

/// RFC 7009 token revocation: an authenticated client revokes a refresh or access token.
/// Unknown tokens are answered 200 too (the spec: the client cannot tell the difference).
pub(super) async fn revoke(State(idp): State<DevIdp>, headers: HeaderMap, body: Bytes) -> Response {
    let p = Params::parse(&body);
    if let Err(e) = authenticate_client(&idp, &headers, &p) {
        return e.into_response();
    }
    let token = match p.single("token") {
        Ok(Some(token)) => token.to_string(),
        _ => return OAuthError::invalid_request("token is required").into_response(),
    };
    if idp.store().revoke(&token) {
        idp.count_revocation();
    }
    (StatusCode::OK, no_store()).into_response()
}

pub(super) async fn userinfo(State(idp): State<DevIdp>, headers: HeaderMap) -> Response {
    let user =
        bearer_token(&headers).and_then(|token| idp.store().access_token(token, now()).map(|grant| grant.user.clone()));
    let Some(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            [
                (header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\"")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response();
    };
    let sub = if idp.misbehaviour() == Misbehaviour::UserinfoSubjectMismatch {
        subject_for_email(&format!("not-{}", user.email))
    } else {
        user.sub
    };
    let body = json!({
        "sub": sub,
        "name": user.name,
        "email": user.email,
        "email_verified": user.email_verified,
    });
    (StatusCode::OK, no_store(), axum::Json(body)).into_response()
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::super::DevClient;
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn idp() -> DevIdp {
        DevIdp::new(
            url::Url::parse("http://127.0.0.1:3000/dev-idp").unwrap(),
            DevClient {
                client_id: "latchkey".into(),
                client_secret: "s3cret:+/ é".into(),
                redirect_uri: "http://127.0.0.1:3000/auth/callback?provider=dev".into(),
            },
        )
    }

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        h
    }

    fn issue_code(idp: &DevIdp) -> String {
        let now = now();
        let code = random_token();
        let grant = CodeGrant {
            client_id: "latchkey".into(),
            redirect_uri: idp.client().redirect_uri.clone(),
            code_challenge: CHALLENGE.into(),
            nonce: Some("the-nonce".into()),
            scope: "openid email profile offline_access".into(),
            user: User {
                sub: subject_for_email("ada@example.test"),
                name: "Ada".into(),
                email: "ada@example.test".into(),
                email_verified: true,
            },
            auth_time: now,
            expires_at: now + CODE_LIFETIME,
        };
        idp.store().insert_code(&code, grant, now).unwrap();
        code
    }

    fn token_body(code: &str, verifier: &str) -> Vec<u8> {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", "http://127.0.0.1:3000/auth/callback?provider=dev")
            .append_pair("code_verifier", verifier)
            .append_pair("client_id", "latchkey")
            .append_pair("client_secret", "s3cret:+/ é")
            .finish()
            .into_bytes()
    }

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert!(pkce_s256_matches(VERIFIER, CHALLENGE));
        assert!(!pkce_s256_matches(VERIFIER, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!pkce_s256_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX", CHALLENGE));
        // A "plain" verifier equal to the challenge must not pass.
        assert!(!pkce_s256_matches(CHALLENGE, CHALLENGE));
        assert!(!pkce_s256_matches("", CHALLENGE));
    }

    #[test]
    fn a_code_is_single_use() {
        let idp = idp();
        let code = issue_code(&idp);
        let answer = exchange(&idp, &form_headers(), &token_body(&code, VERIFIER), Misbehaviour::None).unwrap();
        assert_eq!(answer["token_type"], "Bearer");
        assert_eq!(answer["expires_in"], 3600);
        assert_eq!(answer["scope"], "openid email profile");
        let access = answer["access_token"].as_str().unwrap().to_owned();
        assert!(idp.store().access_token(&access, now()).is_some());

        let again = exchange(&idp, &form_headers(), &token_body(&code, VERIFIER), Misbehaviour::None).unwrap_err();
        assert_eq!(again.error, "invalid_grant");
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        // The replay revoked the access token issued from the code.
        assert!(idp.store().access_token(&access, now()).is_none());
    }

    #[test]
    fn a_wrong_verifier_is_invalid_grant_and_spends_the_code() {
        let idp = idp();
        let code = issue_code(&idp);
        let wrong = "x".repeat(43);
        let e = exchange(&idp, &form_headers(), &token_body(&code, &wrong), Misbehaviour::None).unwrap_err();
        assert_eq!(e.error, "invalid_grant");
        let e = exchange(&idp, &form_headers(), &token_body(&code, VERIFIER), Misbehaviour::None).unwrap_err();
        assert_eq!(e.error, "invalid_grant");
    }

    #[test]
    fn client_authentication() {
        let idp = idp();
        let code = issue_code(&idp);
        // client_secret_basic with the RFC 6749 §2.3.1 url-encoding.
        let mut headers = form_headers();
        let creds = base64::engine::general_purpose::STANDARD.encode("latchkey:s3cret%3A%2B%2F+%C3%A9");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Basic {creds}")).unwrap());
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", &code)
            .append_pair("redirect_uri", "http://127.0.0.1:3000/auth/callback?provider=dev")
            .append_pair("code_verifier", VERIFIER)
            .finish();
        exchange(&idp, &headers, body.as_bytes(), Misbehaviour::None).unwrap();

        // Wrong secret.
        let mut headers = form_headers();
        let creds = base64::engine::general_purpose::STANDARD.encode("latchkey:nope");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Basic {creds}")).unwrap());
        let e = exchange(&idp, &headers, body.as_bytes(), Misbehaviour::None).unwrap_err();
        assert_eq!((e.status, e.error), (StatusCode::UNAUTHORIZED, "invalid_client"));
        // Garbage header, and no authentication at all.
        let mut headers = form_headers();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic %%%"));
        let e = exchange(&idp, &headers, body.as_bytes(), Misbehaviour::None).unwrap_err();
        assert_eq!(e.error, "invalid_client");
        let e = exchange(&idp, &form_headers(), body.as_bytes(), Misbehaviour::None).unwrap_err();
        assert_eq!(e.error, "invalid_client");
    }

    #[test]
    fn authorization_request_validation() {
        let idp = idp();
        let ok = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", "latchkey")
            .append_pair("redirect_uri", "http://127.0.0.1:3000/auth/callback?provider=dev")
            .append_pair("response_type", "code")
            .append_pair("scope", "openid email")
            .append_pair("state", "st")
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let p = Params::parse(ok.as_bytes());
        let req = validate_authz(&idp, &p, false).unwrap();
        assert_eq!(req.state, "st");
        assert_eq!(req.nonce, None);

        let with = |extra: &str| Params::parse(format!("{ok}&{extra}").as_bytes());
        assert!(matches!(validate_authz(&idp, &with("client_id=latchkey"), false), Err(AuthzError::Page(_))));
        let replaced = ok.replace("provider%3Ddev", "provider%3Devil");
        assert!(matches!(validate_authz(&idp, &Params::parse(replaced.as_bytes()), false), Err(AuthzError::Page(_))));
        let plain = ok.replace("S256", "plain");
        match validate_authz(&idp, &Params::parse(plain.as_bytes()), false) {
            Err(AuthzError::Redirect { error, state, .. }) => {
                assert_eq!(error, "invalid_request");
                assert_eq!(state.as_deref(), Some("st"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let no_openid = ok.replace("scope=openid+email", "scope=email");
        assert!(matches!(
            validate_authz(&idp, &Params::parse(no_openid.as_bytes()), false),
            Err(AuthzError::Redirect { .. })
        ));
        // response_type may be left out of the posted form, not of the query.
        let no_response_type = ok.replace("response_type=code&", "");
        let p = Params::parse(no_response_type.as_bytes());
        assert!(validate_authz(&idp, &p, true).is_ok());
        assert!(validate_authz(&idp, &p, false).is_err());
    }

    #[test]
    fn subjects_are_stable_per_email() {
        assert_eq!(subject_for_email("Ada@Example.TEST"), subject_for_email("ada@example.test"));
        assert_eq!(subject_for_email("ada@example.test").len(), 32);
        assert_ne!(subject_for_email("ada@example.test"), subject_for_email("grace@example.test"));
    }
}
