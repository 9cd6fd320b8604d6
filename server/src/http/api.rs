//! The JSON API for the person's other services: `GET /api/me` (with the session cookie or an
//! access token), `POST /api/token` (an access token for the signed-in session) and
//! `GET /.well-known/jwks.json` (the keys that check those tokens).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::private;
use super::extract::MaybeSession;
use crate::access_tokens::AccessTokenError;
use crate::storage::entities::user;
use crate::{AppError, Latchkey};

/// How long a verifier may cache the JWKS: short, so a new key is picked up soon (the next
/// period's key is published ahead of use, and verifiers fetch again for an unknown `kid`).
const JWKS_MAX_AGE_SECONDS: u32 = 300;

/// `GET /api/me`: who is signed in, and with which accounts. With `Authorization: Bearer`, the
/// token alone decides (no cookie needed); otherwise the session cookie. Written straight from
/// the rows: nothing here needs the provider tokens.
pub async fn me(State(latchkey): State<Latchkey>, headers: HeaderMap) -> Response {
    let found = match headers.get(header::AUTHORIZATION) {
        Some(authorization) => match bearer_user(&latchkey, authorization).await {
            Ok(Some(user)) => latchkey.accounts().identities(&user.id).await.map(|identities| (user, identities)),
            Ok(None) => return invalid_token(),
            Err(error) => return error.into_response(),
        },
        None => {
            // The session and the identities in one read: nothing else here needs the session.
            let Some(token) = super::cookies::session_token(latchkey.config(), &headers) else {
                return unauthenticated();
            };
            match latchkey.sessions().authenticate_with_identities(&token).await {
                Ok(Some((session, identities))) => Ok((session.user, identities)),
                Ok(None) => return unauthenticated(),
                Err(e) => Err(e),
            }
        }
    };
    match found {
        Ok((user, identities)) => {
            let accounts = identities
                .iter()
                .map(|identity| MeAccount {
                    provider: &identity.provider_id,
                    subject: &identity.subject,
                    email: identity.email.as_deref(),
                    email_verified: identity.email_verified,
                })
                .collect();
            let body = MeBody {
                user: MeUser { id: &user.id, name: &user.display_name, email: user.email.as_deref() },
                accounts,
            };
            private(Json(body).into_response())
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

/// The user an `Authorization: Bearer` access token speaks for: `None` when it is not a valid
/// token of latchkey's, or its user is gone or disabled.
async fn bearer_user(latchkey: &Latchkey, authorization: &HeaderValue) -> Result<Option<user::Model>, AppError> {
    let token = authorization
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else { return Ok(None) };
    let verified = match latchkey.access_tokens().verify(token).await {
        Ok(verified) => verified,
        Err(AccessTokenError::Invalid(rule)) => {
            tracing::debug!(rule, "refused an access token");
            return Ok(None);
        }
        Err(error) => {
            tracing::error!(%error, "could not check an access token");
            return Err(key_trouble(error));
        }
    };
    let user = latchkey.accounts().user(&verified.user_id).await?;
    Ok(user.filter(|user| user.disabled_at.is_none()))
}

/// `401` for a bearer token that is not (or no longer) valid (RFC 6750 section 3.1).
fn invalid_token() -> Response {
    let mut response =
        private((StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": "invalid_token"}))).into_response());
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer error="invalid_token""#));
    response
}

/// `401` without credentials, saying which scheme would do (RFC 6750 section 3).
fn unauthenticated() -> Response {
    let mut response = private(AppError::Unauthenticated.into_response());
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// `POST /api/token`: an access token for the signed-in session (same-site only, like every
/// write; the body is ignored). `401` without a session.
pub async fn token(State(latchkey): State<Latchkey>, MaybeSession(session): MaybeSession) -> Response {
    let Some(session) = session else { return private(AppError::Unauthenticated.into_response()) };
    match latchkey.access_tokens().issue(&session).await {
        Ok(issued) => private(
            Json(serde_json::json!({
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
            }))
            .into_response(),
        ),
        Err(error) => {
            tracing::error!(%error, "could not issue an access token");
            key_trouble(error).into_response()
        }
    }
}

/// `GET /.well-known/jwks.json`: the public keys that check latchkey's access tokens, the
/// next period's included; cacheable for a few minutes.
pub async fn jwks(State(latchkey): State<Latchkey>) -> Response {
    match latchkey.access_tokens().jwks().await {
        Ok(document) => {
            let cache = format!("public, max-age={JWKS_MAX_AGE_SECONDS}");
            let headers = [
                (header::CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json")),
                (header::CACHE_CONTROL, HeaderValue::from_str(&cache).unwrap_or(HeaderValue::from_static("no-cache"))),
            ];
            (headers, document.as_str().to_owned()).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "could not publish the access token keys");
            key_trouble(error).into_response()
        }
    }
}

fn key_trouble(error: AccessTokenError) -> AppError {
    match error {
        AccessTokenError::Database(e) => AppError::Database(e),
        _ => AppError::Internal("the access token keys cannot be used"),
    }
}

/// The JSON of `/api/me` (its shape is in the README).
#[derive(serde::Serialize)]
struct MeBody<'a> {
    user: MeUser<'a>,
    accounts: Vec<MeAccount<'a>>,
}

#[derive(serde::Serialize)]
struct MeUser<'a> {
    id: &'a str,
    name: &'a str,
    email: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct MeAccount<'a> {
    provider: &'a str,
    subject: &'a str,
    email: Option<&'a str>,
    email_verified: bool,
}
