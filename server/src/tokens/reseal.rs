//! After a key rotation: tokens sealed under a previous key (or the old associated-data
//! format) are sealed again under the current key, when used and by the sweeper, so the old
//! key can be dropped once none is left.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Set};

use super::{Sealed, TokenCipher, TokenColumn, TokenError};
use crate::storage::entities::provider_token;

/// Seals one row's tokens again under the current key. Conditional on the row still holding
/// what was read, so a refresh that replaced it meanwhile wins. `Ok(false)`: nothing to do.
pub(super) async fn reseal_row(
    db: &impl ConnectionTrait,
    cipher: &TokenCipher,
    row: &provider_token::Model,
) -> Result<bool, TokenError> {
    if cipher.is_current(&row.key_id) {
        return Ok(false);
    }
    let identity_id = row.identity_id.as_str();
    let open = |ciphertext: &str, column| {
        cipher.open(&Sealed { key_id: row.key_id.clone(), ciphertext: ciphertext.to_string() }, identity_id, column)
    };
    let access = open(&row.access_token, TokenColumn::Access)?;
    let refresh = row.refresh_token.as_deref().map(|sealed| open(sealed, TokenColumn::Refresh)).transpose()?;
    let sealed_access = cipher.seal(&access, identity_id, TokenColumn::Access);
    let sealed_refresh = refresh.map(|token| cipher.seal(&token, identity_id, TokenColumn::Refresh).ciphertext);
    let update = provider_token::ActiveModel {
        key_id: Set(sealed_access.key_id),
        access_token: Set(sealed_access.ciphertext),
        refresh_token: Set(sealed_refresh),
        ..Default::default()
    };
    let updated = provider_token::Entity::update_many()
        .set(update)
        .filter(provider_token::Column::IdentityId.eq(identity_id))
        .filter(provider_token::Column::KeyId.eq(row.key_id.as_str()))
        .filter(provider_token::Column::AccessToken.eq(row.access_token.as_str()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Up to `batch` rows sealed under a previous key, sealed again; returns how many were. Rows
/// under a key no longer configured cannot be opened: they are counted and logged instead.
pub async fn reseal_old_rows(db: &impl ConnectionTrait, cipher: &TokenCipher, batch: u64) -> Result<u64, TokenError> {
    let old_keys: Vec<&str> = cipher.key_ids().filter(|id| !cipher.is_current(id)).collect();
    let rows = provider_token::Entity::find()
        .filter(provider_token::Column::KeyId.is_in(old_keys))
        .limit(batch)
        .all(db)
        .await?;
    let mut resealed = 0;
    for row in &rows {
        match reseal_row(db, cipher, row).await {
            Ok(done) => resealed += u64::from(done),
            Err(error) => tracing::warn!(identity = %row.identity_id, %error, "could not seal a token again"),
        }
    }
    let unknown = provider_token::Entity::find()
        .filter(provider_token::Column::KeyId.is_not_in(cipher.key_ids()))
        .count(db)
        .await?;
    if unknown > 0 {
        tracing::warn!(
            tokens = unknown,
            "provider tokens are sealed under a key that is neither LATCHKEY_SECRET_KEY nor in LATCHKEY_PREVIOUS_SECRET_KEYS: they cannot be used until their owners sign in again"
        );
    }
    Ok(resealed)
}
