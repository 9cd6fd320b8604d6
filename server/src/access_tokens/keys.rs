//! The Ed25519 keys that sign latchkey's access tokens: one per rotation period, created by
//! whichever instance needs it first (the period's start is unique, so every instance signs
//! with the same key), the private part sealed in the database. The next period's key is
//! created ahead of time, so verifiers that cache the JWKS know it before it signs; a key
//! stays published until the last token it signed has expired.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, TimeDelta, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};

use super::AccessTokenError;
use crate::config::MAX_ACCESS_TOKEN_MINUTES;
use crate::storage::Database;
use crate::storage::entities::signing_key;
use crate::tokens::{Sealed, TokenCipher, TokenColumn};
use crate::util::to_delta;

/// Keys another instance created are picked up within this time.
const RELOAD_AFTER: Duration = Duration::from_secs(60);
/// A token with an unknown `kid` reloads the keys at most this often (forged `kid`s cannot
/// make every request read the database).
const UNKNOWN_KID_RELOAD_INTERVAL: Duration = Duration::from_secs(10);
/// Tolerated clock difference between instances.
const CLOCK_SKEW: TimeDelta = TimeDelta::seconds(60);

/// One published key.
pub(super) struct PublishedKey {
    pub kid: String,
    pub verifying: VerifyingKey,
}

/// The keys as loaded: the one that signs now, and every published one.
pub(super) struct KeySet {
    pub signing_kid: String,
    pub signing: SigningKey,
    signs_until: DateTime<Utc>,
    pub published: Vec<PublishedKey>,
    /// The JWKS document, serialized once per load.
    pub jwks: Arc<String>,
    loaded_at: Instant,
}

impl KeySet {
    pub fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        self.published.iter().find(|key| key.kid == kid).map(|key| &key.verifying)
    }
}

pub(super) struct KeyRing {
    db: Database,
    cipher: Arc<TokenCipher>,
    rotation: Duration,
    loaded: Mutex<Option<Arc<KeySet>>>,
}

impl KeyRing {
    pub fn new(db: Database, cipher: Arc<TokenCipher>, rotation: Duration) -> Self {
        KeyRing { db, cipher, rotation, loaded: Mutex::new(None) }
    }

    fn loaded(&self) -> Option<Arc<KeySet>> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The keys, loaded again when the signing key's period is over or they are a minute old.
    pub async fn current(&self) -> Result<Arc<KeySet>, AccessTokenError> {
        match self.loaded() {
            Some(set) if Utc::now() < set.signs_until && set.loaded_at.elapsed() < RELOAD_AFTER => Ok(set),
            _ => self.reload().await,
        }
    }

    /// The keys after a token named an unknown `kid`: reloaded, unless that was just done.
    pub async fn after_unknown_kid(&self) -> Result<Arc<KeySet>, AccessTokenError> {
        match self.loaded() {
            Some(set) if set.loaded_at.elapsed() < UNKNOWN_KID_RELOAD_INTERVAL => Ok(set),
            _ => self.reload().await,
        }
    }

    async fn reload(&self) -> Result<Arc<KeySet>, AccessTokenError> {
        let now = Utc::now();
        let period = to_delta(self.rotation);
        let this_period = period_start(now, period);
        let mut rows = self.published(now).await?;
        let missing: Vec<_> = [this_period, this_period + period]
            .into_iter()
            .filter(|start| !rows.iter().any(|row| row.slot_start == *start))
            .collect();
        if !missing.is_empty() {
            for start in missing {
                self.create(start, period).await?;
            }
            rows = self.published(now).await?;
        }
        let signing_row = rows
            .iter()
            .find(|row| row.slot_start == this_period)
            .ok_or(AccessTokenError::Unavailable("the signing key of this period is missing"))?;
        let sealed = Sealed { key_id: signing_row.key_id.clone(), ciphertext: signing_row.private_key.clone() };
        let private = self.cipher.open(&sealed, &signing_row.kid, TokenColumn::SigningKey)?;
        let signing = B64
            .decode(private)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(|bytes| SigningKey::from_bytes(&bytes))
            .ok_or(AccessTokenError::Unavailable("the stored signing key is damaged"))?;
        let published: Vec<PublishedKey> = rows
            .iter()
            .filter_map(|row| {
                let bytes = <[u8; 32]>::try_from(B64.decode(&row.public_key).ok()?).ok()?;
                Some(PublishedKey { kid: row.kid.clone(), verifying: VerifyingKey::from_bytes(&bytes).ok()? })
            })
            .collect();
        let jwks = serde_json::json!({ "keys": published.iter().map(|key| jwk(&key.kid, &key.verifying)).collect::<Vec<_>>() });
        let set = Arc::new(KeySet {
            signing_kid: signing_row.kid.clone(),
            signing,
            signs_until: signing_row.signs_until,
            published,
            jwks: Arc::new(jwks.to_string()),
            loaded_at: Instant::now(),
        });
        *self.loaded.lock().unwrap_or_else(PoisonError::into_inner) = Some(set.clone());
        Ok(set)
    }

    async fn published(&self, now: DateTime<Utc>) -> Result<Vec<signing_key::Model>, AccessTokenError> {
        Ok(signing_key::Entity::find()
            .filter(signing_key::Column::PublishedUntil.gt(now))
            .order_by_asc(signing_key::Column::SlotStart)
            .all(self.db.writes())
            .await?)
    }

    /// A new key for the period starting at `start`, unless an instance made one first.
    async fn create(&self, start: DateTime<Utc>, period: TimeDelta) -> Result<(), AccessTokenError> {
        let signing = SigningKey::from_bytes(&crate::util::random_bytes::<32>());
        let verifying = signing.verifying_key();
        let kid = thumbprint(&verifying);
        let sealed = self.cipher.seal(&B64.encode(signing.to_bytes()), &kid, TokenColumn::SigningKey);
        let signs_until = start + period;
        let row = signing_key::ActiveModel {
            kid: Set(kid),
            slot_start: Set(start),
            public_key: Set(B64.encode(verifying.to_bytes())),
            private_key: Set(sealed.ciphertext),
            key_id: Set(sealed.key_id),
            signs_until: Set(signs_until),
            // Until the last token it signed has expired (at the longest lifetime allowed).
            published_until: Set(signs_until + TimeDelta::minutes(MAX_ACCESS_TOKEN_MINUTES as i64) + CLOCK_SKEW),
        };
        crate::storage::retry(|| {
            signing_key::Entity::insert(row.clone())
                .on_conflict(OnConflict::column(signing_key::Column::SlotStart).do_nothing().to_owned())
                .exec_without_returning(self.db.writes())
        })
        .await?;
        Ok(())
    }
}

/// The start of the rotation period `now` falls in (periods counted from the Unix epoch).
fn period_start(now: DateTime<Utc>, period: TimeDelta) -> DateTime<Utc> {
    let seconds = period.num_seconds().max(1);
    let start = now.timestamp().div_euclid(seconds) * seconds;
    DateTime::from_timestamp(start, 0).unwrap_or(now)
}

/// The key as a JWK (RFC 8037), never with a private part.
fn jwk(kid: &str, key: &VerifyingKey) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": B64.encode(key.to_bytes()),
        "kid": kid,
        "use": "sig",
        "alg": "EdDSA",
    })
}

/// The RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
fn thumbprint(key: &VerifyingKey) -> String {
    let members = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, B64.encode(key.to_bytes()));
    B64.encode(Sha256::digest(members.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_on_their_boundary_and_every_instant_falls_in_one() {
        let period = TimeDelta::days(30);
        let now = DateTime::from_timestamp(1_764_500_000, 0).expect("a time");
        let start = period_start(now, period);
        assert!(start <= now && now < start + period);
        assert_eq!(period_start(start, period), start);
        assert_eq!(period_start(start + period, period), start + period);
    }

    #[test]
    fn the_published_key_has_no_private_part() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let jwk = jwk("kid", &key.verifying_key());
        assert_eq!(jwk.as_object().map(|members| members.contains_key("d")), Some(false));
        assert_eq!(jwk["kty"], "OKP");
    }
}
