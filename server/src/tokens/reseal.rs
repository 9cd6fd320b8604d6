//! After a key rotation: tokens sealed under a previous key (or the old associated-data
//! format) are sealed again under the current key, when used and by the sweeper, so the old
//! key can be dropped once none is left.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Set};

use super::{Sealed, TokenCipher, TokenColumn, TokenError};
use crate::storage::entities::{provider_token, session, signing_key};

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

/// Up to `batch` rows of provider tokens, and as many sessions' ID tokens, sealed under a
/// previous key, sealed again, and the access tokens' signing keys; returns how many were. Provider tokens under a key no longer
/// configured cannot be opened: they are counted and logged instead.
pub async fn reseal_old_rows(db: &impl ConnectionTrait, cipher: &TokenCipher, batch: u64) -> Result<u64, TokenError> {
    let old_keys: Vec<&str> = cipher.key_ids().filter(|id| !cipher.is_current(id)).collect();
    let resealed_elsewhere = reseal_old_id_tokens(db, cipher, &old_keys, batch).await?
        + reseal_old_signing_keys(db, cipher, &old_keys).await?;
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
    Ok(resealed + resealed_elsewhere)
}

/// Sessions' sign-in ID tokens sealed under one of `old_keys`, sealed again (a session whose
/// key is gone simply signs out at its provider without the hint).
async fn reseal_old_id_tokens(
    db: &impl ConnectionTrait,
    cipher: &TokenCipher,
    old_keys: &[&str],
    batch: u64,
) -> Result<u64, TokenError> {
    let rows = session::Entity::find()
        .filter(session::Column::IdTokenKeyId.is_in(old_keys.iter().copied()))
        .limit(batch)
        .all(db)
        .await?;
    let mut resealed = 0;
    for row in &rows {
        let (Some(key_id), Some(ciphertext)) = (&row.id_token_key_id, &row.id_token) else { continue };
        let sealed = Sealed { key_id: key_id.clone(), ciphertext: ciphertext.clone() };
        let Some(again) = sealed_again(cipher, &sealed, &row.id, TokenColumn::IdToken) else { continue };
        let updated = session::Entity::update_many()
            .col_expr(session::Column::IdToken, Expr::value(again.ciphertext))
            .col_expr(session::Column::IdTokenKeyId, Expr::value(again.key_id))
            .filter(session::Column::Id.eq(row.id.as_str()))
            .filter(session::Column::IdTokenKeyId.eq(key_id.as_str()))
            .exec(db)
            .await?;
        resealed += updated.rows_affected;
    }
    Ok(resealed)
}

/// The access tokens' signing keys sealed under one of `old_keys`, sealed again.
async fn reseal_old_signing_keys(
    db: &impl ConnectionTrait,
    cipher: &TokenCipher,
    old_keys: &[&str],
) -> Result<u64, TokenError> {
    let rows =
        signing_key::Entity::find().filter(signing_key::Column::KeyId.is_in(old_keys.iter().copied())).all(db).await?;
    let mut resealed = 0;
    for row in &rows {
        let sealed = Sealed { key_id: row.key_id.clone(), ciphertext: row.private_key.clone() };
        let Some(again) = sealed_again(cipher, &sealed, &row.kid, TokenColumn::SigningKey) else { continue };
        let updated = signing_key::Entity::update_many()
            .col_expr(signing_key::Column::PrivateKey, Expr::value(again.ciphertext))
            .col_expr(signing_key::Column::KeyId, Expr::value(again.key_id))
            .filter(signing_key::Column::Kid.eq(row.kid.as_str()))
            .filter(signing_key::Column::KeyId.eq(row.key_id.as_str()))
            .exec(db)
            .await?;
        resealed += updated.rows_affected;
    }
    Ok(resealed)
}

/// A value sealed under a previous key, sealed under the current one; `None` (logged) when it
/// no longer opens.
fn sealed_again(cipher: &TokenCipher, sealed: &Sealed, row: &str, column: TokenColumn) -> Option<Sealed> {
    match cipher.open(sealed, row, column) {
        Ok(value) => Some(cipher.seal(&value, row, column)),
        Err(error) => {
            tracing::warn!(row, ?column, %error, "could not seal a value again under the current key");
            None
        }
    }
}
