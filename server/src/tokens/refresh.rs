//! "A valid access token for this identity": refreshed when expired, one refresh at a time.
//!
//! Within one server a per-identity mutex makes concurrent callers wait for the refresh in
//! flight; across servers a lease column (`refresh_lock_until`, claimed with a conditional
//! UPDATE) keeps two instances from both spending a rotating refresh token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use latchkey_types::TokenStatus;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ActiveEnum as _, ColumnTrait, EntityTrait, QueryFilter};

use super::reseal::reseal_row;
use super::{Sealed, TokenCipher, TokenColumn, TokenError};
use crate::provider::{Provider, ProviderError, ProviderTokens};
use crate::storage::entities::provider_token;
use crate::storage::{Database, retry};

/// Refresh a little before expiry so a token never dies in flight.
const EARLY: TimeDelta = TimeDelta::seconds(60);
/// How long one instance may hold the refresh lease.
const LEASE: TimeDelta = TimeDelta::seconds(30);
/// How long a caller waits for another instance's refresh.
const WAIT: Duration = Duration::from_secs(10);

/// One async mutex per identity, for the refreshes of this server instance.
#[derive(Default)]
pub struct RefreshLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl RefreshLocks {
    fn for_identity(&self, identity_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(identity_id.to_string()).or_default().clone()
    }
}

pub async fn valid_access_token(
    db: &Database,
    cipher: &TokenCipher,
    locks: &RefreshLocks,
    provider: &Provider,
    identity_id: &str,
) -> Result<String, TokenError> {
    let started = tokio::time::Instant::now();
    loop {
        if let Some(token) = fresh_access_token(db, cipher, identity_id).await? {
            return Ok(token);
        }
        let lock = locks.for_identity(identity_id);
        let _in_flight = lock.lock().await;
        // Someone in this instance may have refreshed while we waited.
        if let Some(token) = fresh_access_token(db, cipher, identity_id).await? {
            return Ok(token);
        }
        if claim_lease(db, identity_id).await? {
            return refresh_holding_lease(db, cipher, provider, identity_id).await;
        }
        // Another instance holds the lease: wait for its result.
        drop(_in_flight);
        if started.elapsed() > WAIT {
            return Err(TokenError::Busy);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The stored access token if it is still good; `None` if it needs a refresh.
async fn fresh_access_token(
    db: &Database,
    cipher: &TokenCipher,
    identity_id: &str,
) -> Result<Option<String>, TokenError> {
    let row = provider_token::Entity::find_by_id(identity_id.to_string())
        .one(db.reads())
        .await?
        .ok_or(TokenError::NoTokens)?;
    if row.status == TokenStatus::ReconnectNeeded {
        return Err(TokenError::ReconnectNeeded);
    }
    let expired = row.expires_at.is_some_and(|at| at - EARLY <= Utc::now());
    if expired {
        return Ok(None);
    }
    let sealed = Sealed { key_id: row.key_id.clone(), ciphertext: row.access_token.clone() };
    let token = cipher.open(&sealed, identity_id, TokenColumn::Access)?;
    if !cipher.is_current(&row.key_id) {
        // Sealed under a previous key: seal it under the current one now that it is in use.
        if let Err(error) = reseal_row(db.writes(), cipher, &row).await {
            tracing::warn!(identity = identity_id, %error, "could not seal a token again under the current key");
        }
    }
    Ok(Some(token))
}

async fn claim_lease(db: &Database, identity_id: &str) -> Result<bool, TokenError> {
    let claimed = retry(|| {
        let now = Utc::now();
        provider_token::Entity::update_many()
            .col_expr(provider_token::Column::RefreshLockUntil, Expr::value(Some(now + LEASE)))
            .filter(provider_token::Column::IdentityId.eq(identity_id))
            .filter(
                Condition::any()
                    .add(provider_token::Column::RefreshLockUntil.is_null())
                    .add(provider_token::Column::RefreshLockUntil.lt(now)),
            )
            // Only while the token still needs refreshing: another server may have refreshed it
            // and released the lease since this one last looked, and must not be followed by a
            // second refresh (it would spend the new refresh token too).
            .filter(provider_token::Column::ExpiresAt.lte(now + EARLY))
            .exec(db.writes())
    })
    .await?;
    Ok(claimed.rows_affected == 1)
}

async fn refresh_holding_lease(
    db: &Database,
    cipher: &TokenCipher,
    provider: &Provider,
    identity_id: &str,
) -> Result<String, TokenError> {
    let row = provider_token::Entity::find_by_id(identity_id.to_string())
        .one(db.reads())
        .await?
        .ok_or(TokenError::NoTokens)?;
    let Some(refresh_ciphertext) = row.refresh_token.clone() else {
        mark_reconnect_needed(db, identity_id).await?;
        return Err(TokenError::ReconnectNeeded);
    };
    let refresh_token = cipher.open(
        &Sealed { key_id: row.key_id.clone(), ciphertext: refresh_ciphertext },
        identity_id,
        TokenColumn::Refresh,
    )?;
    match provider.refresh(&refresh_token).await {
        Ok(mut fresh) => {
            // Providers that do not rotate keep the refresh token they issued.
            if fresh.refresh_token.is_none() {
                fresh.refresh_token = Some(crate::config::Secret::new(refresh_token));
            }
            let access_token = fresh.access_token.as_ref().map(|t| t.expose().to_string()).unwrap_or_default();
            store_refreshed(db, cipher, identity_id, &fresh).await?;
            Ok(access_token)
        }
        Err(ProviderError::CodeRejected(reason)) => {
            tracing::info!(identity = identity_id, %reason, "the provider refused the refresh token");
            mark_reconnect_needed(db, identity_id).await?;
            Err(TokenError::ReconnectNeeded)
        }
        Err(other) => {
            release_lease(db, identity_id).await?;
            Err(other.into())
        }
    }
}

async fn store_refreshed(
    db: &Database,
    cipher: &TokenCipher,
    identity_id: &str,
    tokens: &ProviderTokens,
) -> Result<(), TokenError> {
    // `store` replaces the row, which also clears the lease.
    retry(|| async {
        let txn = db.begin().await?;
        super::store(&txn, cipher, identity_id, tokens).await?;
        txn.commit().await
    })
    .await?;
    Ok(())
}

async fn mark_reconnect_needed(db: &Database, identity_id: &str) -> Result<(), TokenError> {
    retry(|| {
        provider_token::Entity::update_many()
            .col_expr(provider_token::Column::Status, Expr::value(TokenStatus::ReconnectNeeded.to_value()))
            .col_expr(provider_token::Column::RefreshLockUntil, Expr::value(Option::<chrono::DateTime<Utc>>::None))
            .filter(provider_token::Column::IdentityId.eq(identity_id))
            .exec(db.writes())
    })
    .await?;
    Ok(())
}

async fn release_lease(db: &Database, identity_id: &str) -> Result<(), TokenError> {
    retry(|| {
        provider_token::Entity::update_many()
            .col_expr(provider_token::Column::RefreshLockUntil, Expr::value(Option::<chrono::DateTime<Utc>>::None))
            .filter(provider_token::Column::IdentityId.eq(identity_id))
            .exec(db.writes())
    })
    .await?;
    Ok(())
}
