//! Providers' tokens (access and refresh tokens latchkey holds for a linked identity).
//! They are sealed with an AEAD before they touch the database and never leave the server.

mod cipher;
mod refresh;

use chrono::Utc;
use latchkey_types::TokenStatus;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};

pub use cipher::{CipherError, Sealed, TokenCipher};
pub use refresh::{RefreshLocks, valid_access_token};

use crate::provider::ProviderTokens;
use crate::storage::entities::provider_token;

/// Replaces the stored tokens of an identity with fresh ones from a sign-in or link.
/// The identity id is the associated data: a sealed token only opens on its own row.
pub async fn store(
    db: &impl ConnectionTrait,
    cipher: &TokenCipher,
    identity_id: &str,
    tokens: &ProviderTokens,
) -> Result<(), DbErr> {
    let Some(access_token) = &tokens.access_token else { return Ok(()) };
    let access = cipher.seal(access_token.expose(), identity_id);
    let refresh = tokens.refresh_token.as_ref().map(|t| cipher.seal(t.expose(), identity_id).ciphertext);
    let row = provider_token::ActiveModel {
        identity_id: Set(identity_id.to_string()),
        key_id: Set(access.key_id),
        access_token: Set(access.ciphertext),
        refresh_token: Set(refresh),
        expires_at: Set(tokens.expires_at),
        scopes: Set(tokens.scopes.join(" ")),
        status: Set(TokenStatus::Ok),
        refresh_lock_until: Set(None),
        updated_at: Set(Utc::now()),
    };
    // Update in place (readers never see the row missing), insert the first time.
    let exists = provider_token::Entity::find_by_id(identity_id.to_string()).one(db).await?.is_some();
    if exists {
        row.update(db).await?;
    } else {
        row.insert(db).await?;
    }
    Ok(())
}

/// The stored access token of an identity, opened; `None` when there is none.
pub async fn access_token(
    db: &impl ConnectionTrait,
    cipher: &TokenCipher,
    identity_id: &str,
) -> Result<Option<String>, TokenError> {
    let Some(row) = provider_token::Entity::find_by_id(identity_id.to_string()).one(db).await? else {
        return Ok(None);
    };
    let sealed = Sealed { key_id: row.key_id, ciphertext: row.access_token };
    Ok(Some(cipher.open(&sealed, identity_id)?))
}

/// The opened tokens of an identity, for revocation: (access, refresh).
pub async fn held_tokens(
    db: &impl ConnectionTrait,
    cipher: &TokenCipher,
    identity_id: &str,
) -> Result<Option<(Option<String>, Option<String>)>, TokenError> {
    let Some(row) = provider_token::Entity::find_by_id(identity_id.to_string()).one(db).await? else {
        return Ok(None);
    };
    let open = |ciphertext: String| cipher.open(&Sealed { key_id: row.key_id.clone(), ciphertext }, identity_id).ok();
    Ok(Some((open(row.access_token.clone()), row.refresh_token.clone().and_then(open))))
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("latchkey holds no tokens for this identity")]
    NoTokens,
    #[error("the provider no longer accepts latchkey's tokens: sign in with it again to reconnect")]
    ReconnectNeeded,
    #[error("another server is refreshing these tokens and did not finish in time")]
    Busy,
    #[error(transparent)]
    Provider(#[from] crate::provider::ProviderError),
    #[error(transparent)]
    Database(#[from] DbErr),
    #[error(transparent)]
    Cipher(#[from] CipherError),
}
