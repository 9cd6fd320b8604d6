//! The HTTP endpoints: discovery, JWKS and userinfo here; the authorization endpoint
//! (sign-in page and decision) in `authorize`, the token and revocation endpoints in `token`.
//! Handlers are thin; the logic is in plain functions.

mod authorize;
mod sign_out;
#[cfg(test)]
mod tests;
mod token;

pub(crate) use authorize::{authorize_get, authorize_post};
pub(crate) use sign_out::{end_session_get, end_session_post, sign_out_get, sign_out_post};
pub(crate) use token::{revoke, token};

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

use crate::jwt::{self, Signing};
use crate::pages::{self, UserForm};
use crate::params::{self, ParamError, Params};
use crate::store::{ACCESS_TOKEN_LIFETIME, AccessGrant, CODE_LIFETIME, CodeGrant, Redemption, User};
use crate::{DevIdp, Misbehaviour, now, random_token, subject_for_email};

/// The issuer the misbehaving provider claims to be (`iss` claim, `iss` parameter).
const OTHER_ISSUER: &str = "https://other-idp.example.test/dev-idp";
/// The audience / authorized party that is not latchkey.
const SOMEONE_ELSE: &str = "someone-else";
/// ID tokens live this long (seconds).
const ID_TOKEN_LIFETIME: i64 = 300;
/// How long `SlowTokenEndpoint` and `SlowKeys` stall.
const SLOW_TOKEN_DELAY: Duration = Duration::from_secs(30);
const SCOPES_SUPPORTED: [&str; 3] = ["openid", "email", "profile"];
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

// ---------------------------------------------------------------------------
// Discovery and keys
// ---------------------------------------------------------------------------

pub(crate) async fn discovery(State(idp): State<DevIdp>) -> Response {
    idp.count_discovery_fetch();
    if idp.misbehaviour() == Misbehaviour::DiscoveryUnavailable {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
    }
    let issuer = idp.issuer_str();
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
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
    let mut doc = doc;
    if idp.misbehaviour() == Misbehaviour::NoEndSessionEndpoint
        && let Some(members) = doc.as_object_mut()
    {
        members.remove("end_session_endpoint");
    }
    axum::Json(doc).into_response()
}

pub(crate) async fn jwks(State(idp): State<DevIdp>) -> Response {
    idp.count_jwks_fetch();
    if idp.misbehaviour() == Misbehaviour::SlowKeys {
        tokio::time::sleep(SLOW_TOKEN_DELAY).await;
    }
    let key = idp.key();
    let mut response = axum::Json(json!({ "keys": [key.jwk()] })).into_response();
    if let Some(value) = idp.jwks_max_age().and_then(|s| HeaderValue::from_str(&format!("max-age={s}")).ok()) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

// ---------------------------------------------------------------------------
// Userinfo endpoint
// ---------------------------------------------------------------------------

pub(crate) async fn userinfo(State(idp): State<DevIdp>, headers: HeaderMap) -> Response {
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

/// Token and userinfo answers must never be cached.
fn no_store() -> [(HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}
