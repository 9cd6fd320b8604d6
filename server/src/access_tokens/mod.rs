//! latchkey's own access tokens, for the person's other services: JWTs in the RFC 9068
//! profile (`typ: at+jwt`), signed with Ed25519 (`EdDSA`), issued to a signed-in session by
//! `POST /api/token`, accepted as `Authorization: Bearer` by `/api/me`, and checkable by any
//! service with the public keys at `/.well-known/jwks.json`.

mod keys;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, TimeDelta, Utc};
use ed25519_dalek::{Signature, Signer as _};
use sea_orm::DbErr;
use serde_json::{Value, json};

use crate::config::AccessTokenSettings;
use crate::session::Session;
use crate::storage::Database;
use crate::tokens::{CipherError, TokenCipher};
use crate::util::to_delta;
use keys::KeyRing;

/// The `typ` header of an access token (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Tolerated clock difference between instances.
const CLOCK_SKEW: TimeDelta = TimeDelta::seconds(60);

#[derive(Debug, thiserror::Error)]
pub enum AccessTokenError {
    /// The token is not one of latchkey's, or not any more (which rule: for the log only).
    #[error("the access token is not valid: {0}")]
    Invalid(&'static str),
    #[error("the signing keys cannot be used: {0}")]
    Unavailable(&'static str),
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// A token issued to a session.
pub struct IssuedToken {
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// What a valid token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `sub`: the user id.
    pub user_id: String,
    /// `sid`: the session it was issued to.
    pub session_id: String,
    pub expires_at: DateTime<Utc>,
}

/// Issues and checks the app's access tokens. Cheap to clone.
#[derive(Clone)]
pub struct AccessTokens {
    settings: AccessTokenSettings,
    issuer: String,
    keys: Arc<KeyRing>,
}

impl AccessTokens {
    pub fn new(db: Database, cipher: Arc<TokenCipher>, settings: AccessTokenSettings, issuer: String) -> Self {
        let keys = Arc::new(KeyRing::new(db, cipher, settings.key_rotation));
        AccessTokens { settings, issuer, keys }
    }

    /// A fresh token for the session's user, signed with this period's key.
    pub async fn issue(&self, session: &Session) -> Result<IssuedToken, AccessTokenError> {
        let keys = self.keys.current().await?;
        let now = Utc::now();
        let lifetime = to_delta(self.settings.lifetime);
        let header = json!({ "alg": "EdDSA", "typ": ACCESS_TOKEN_TYPE, "kid": keys.signing_kid });
        let claims = json!({
            "iss": self.issuer,
            "sub": session.user_id(),
            "aud": self.settings.audience,
            "iat": now.timestamp(),
            "exp": (now + lifetime).timestamp(),
            "jti": uuid::Uuid::new_v4().to_string(),
            // The client is latchkey's own web app, which the person signed in to.
            "client_id": self.issuer,
            "sid": session.record.id,
        });
        let signing_input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signature = keys.signing.sign(signing_input.as_bytes());
        Ok(IssuedToken {
            access_token: format!("{signing_input}.{}", B64.encode(signature.to_bytes())),
            expires_in: self.settings.lifetime.as_secs(),
        })
    }

    /// Checks a token as any verifier should: `typ`, `alg` (EdDSA only), a published `kid`,
    /// the signature, `iss`, `aud`, `exp` and `iat`. Whether its user may still act is the
    /// caller's to check.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, AccessTokenError> {
        use AccessTokenError::Invalid;
        let (signing_input, signature) = token.rsplit_once('.').ok_or(Invalid("not a compact JWS"))?;
        let (header, payload) = signing_input.split_once('.').ok_or(Invalid("not a compact JWS"))?;
        let header = decode_json(header).ok_or(Invalid("the header is not JSON"))?;
        let typ = header.get("typ").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
        if typ != ACCESS_TOKEN_TYPE && typ != format!("application/{ACCESS_TOKEN_TYPE}") {
            return Err(Invalid("typ is not at+jwt"));
        }
        if header.get("alg").and_then(Value::as_str) != Some("EdDSA") {
            return Err(Invalid("alg is not EdDSA"));
        }
        let kid = header.get("kid").and_then(Value::as_str).ok_or(Invalid("no kid"))?;
        let signature = B64
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(Invalid("the signature is malformed"))?;
        let mut keys = self.keys.current().await?;
        if keys.find(kid).is_none() {
            keys = self.keys.after_unknown_kid().await?;
        }
        let key = keys.find(kid).ok_or(Invalid("no published key has this kid"))?;
        key.verify_strict(signing_input.as_bytes(), &signature).map_err(|_| Invalid("the signature is not valid"))?;

        let claims = decode_json(payload).ok_or(Invalid("the claims are not JSON"))?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let time = |name: &str| claims.get(name).and_then(Value::as_i64).and_then(|t| DateTime::from_timestamp(t, 0));
        if text("iss") != Some(self.issuer.as_str()) {
            return Err(Invalid("iss is not latchkey"));
        }
        let audience = self.settings.audience.as_str();
        let for_us = match claims.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(list)) => list.iter().any(|aud| aud.as_str() == Some(audience)),
            _ => false,
        };
        if !for_us {
            return Err(Invalid("aud is not this audience"));
        }
        let now = Utc::now();
        let expires_at = time("exp").ok_or(Invalid("no exp"))?;
        if expires_at <= now {
            return Err(Invalid("expired"));
        }
        if time("iat").is_none_or(|iat| iat > now + CLOCK_SKEW) {
            return Err(Invalid("iat is missing or in the future"));
        }
        Ok(VerifiedToken {
            user_id: text("sub").ok_or(Invalid("no sub"))?.to_string(),
            session_id: text("sid").unwrap_or_default().to_string(),
            expires_at,
        })
    }

    /// The published keys as a JWKS document (public parts only).
    pub async fn jwks(&self) -> Result<Arc<String>, AccessTokenError> {
        Ok(self.keys.current().await?.jwks.clone())
    }
}

fn decode_json(part: &str) -> Option<Value> {
    serde_json::from_slice(&B64.decode(part).ok()?).ok()
}
