//! The token endpoint (authorization code and refresh grants, client authentication,
//! PKCE, the ID token) and RFC 7009 revocation.

use super::*;

/// An OAuth error answered by the token endpoint (RFC 6749 §5.2).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct OAuthError {
    pub(super) status: StatusCode,
    pub(super) error: &'static str,
    pub(super) description: String,
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

/// How much a token response grows by under [`Misbehaviour::OversizedTokenResponse`].
const OVERSIZED_BYTES: usize = 1024 * 1024;

pub(crate) async fn token(State(idp): State<DevIdp>, headers: HeaderMap, body: Bytes) -> Response {
    let misbehaviour = idp.misbehaviour();
    if misbehaviour == Misbehaviour::SlowTokenEndpoint {
        tokio::time::sleep(SLOW_TOKEN_DELAY).await;
    }
    match exchange(&idp, &headers, &body, misbehaviour) {
        Ok(answer) if misbehaviour == Misbehaviour::OversizedTokenResponse => {
            // Valid JSON all the same: only its size is wrong.
            let padded = format!("{answer}{}", " ".repeat(OVERSIZED_BYTES));
            let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
            (StatusCode::OK, no_store(), json, padded).into_response()
        }
        Ok(answer) => (StatusCode::OK, no_store(), axum::Json(answer)).into_response(),
        Err(e) => {
            tracing::debug!(error = e.error, description = %e.description, "dev identity provider refused a token request");
            e.into_response()
        }
    }
}

/// The token request proper: client authentication, then the code grant.
pub(super) fn exchange(
    idp: &DevIdp,
    headers: &HeaderMap,
    body: &[u8],
    misbehaviour: Misbehaviour,
) -> Result<Value, OAuthError> {
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
    let recorded = idp.store().insert_access_token(Some(code), &access_token, access, now);
    if recorded.is_err() {
        return Err(OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many live access tokens",
        ));
    }
    let refresh_token = random_token();
    let refresh_grant = crate::store::RefreshGrant {
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
pub(super) fn refresh(
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
    if store.insert_access_token(None, &access_token, access, now).is_err()
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
pub(super) fn authenticate_client<'a>(idp: &'a DevIdp, headers: &HeaderMap, p: &Params) -> Result<&'a str, OAuthError> {
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
pub(super) fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
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
pub(super) fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    if !params::is_pkce_string(verifier) {
        return false;
    }
    let computed = crate::pkce_challenge(verifier);
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// The requested scopes this provider knows, in request order, without repeats.
pub(super) fn granted_scope(requested: &str) -> String {
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split(' ') {
        if SCOPES_SUPPORTED.contains(&scope) && !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    granted.join(" ")
}

/// Builds and signs the ID token, applying the misbehaviour.
pub(super) fn id_token(
    idp: &DevIdp,
    grant: &CodeGrant,
    access_token: &str,
    now: i64,
    misbehaviour: Misbehaviour,
) -> String {
    use Misbehaviour as M;
    let client_id = grant.client_id.as_str();
    let (iat, exp, auth_time) = match misbehaviour {
        M::Expired => (now - 60, now - 1, grant.auth_time),
        M::IssuedInFuture => (now + 3600, now + 3600 + ID_TOKEN_LIFETIME, grant.auth_time),
        M::IssuedTooLongAgo => (now - 11 * 60, now + ID_TOKEN_LIFETIME, grant.auth_time),
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
        "at_hash": if misbehaviour == M::WrongAccessTokenHash {
            jwt::access_token_hash("another access token")
        } else {
            jwt::access_token_hash(access_token)
        },
        "name": grant.user.name,
        "email": grant.user.email,
        "email_verified": grant.user.email_verified,
        "sid": grant.sid,
    });
    idp.note_issued_sid(&grant.sid);
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
    idp.signing_key(misbehaviour).encode(signing, &claims)
}

/// RFC 7009 token revocation: an authenticated client revokes a refresh or access token.
/// Unknown tokens are answered 200 too (the spec: the client cannot tell the difference).
pub(crate) async fn revoke(State(idp): State<DevIdp>, headers: HeaderMap, body: Bytes) -> Response {
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
