//! Providers' tokens (access and refresh tokens latchkey holds for a linked identity).
//! They are sealed with an AEAD before they touch the database and never leave the server.

mod cipher;
mod refresh;
mod reseal;

use chrono::Utc;
use latchkey_types::TokenStatus;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

pub use cipher::{CipherError, Sealed, TokenCipher, TokenColumn};
use refresh::{RefreshLocks, valid_access_token};
pub use reseal::reseal_old_rows;

use std::sync::Arc;

use crate::provider::{ProviderTokens, Providers};
use crate::storage::Database;
use crate::storage::entities::{identity, provider_token};
use crate::storage::prepared::{Batch, SqlText};

/// The provider tokens latchkey holds: sealed at rest, refreshed one at a time, revoked
/// when an identity goes. Cheap to clone.
#[derive(Clone)]
pub struct Tokens {
    db: Database,
    cipher: Arc<TokenCipher>,
    locks: Arc<RefreshLocks>,
    providers: Providers,
}

impl Tokens {
    pub fn new(db: Database, cipher: Arc<TokenCipher>, providers: Providers) -> Self {
        Tokens { db, cipher, locks: Arc::default(), providers }
    }

    /// Seals and opens the providers' tokens at rest.
    pub fn cipher(&self) -> &TokenCipher {
        &self.cipher
    }

    /// A valid access token for one of latchkey's stored identities, refreshed at the provider
    /// when expired (one refresh at a time per identity, across instances). Server-side only.
    pub async fn access_token(&self, identity_id: &str) -> Result<String, TokenError> {
        let identity = identity::Entity::find_by_id(identity_id.to_string())
            .one(self.db.reads())
            .await?
            .ok_or(TokenError::NoTokens)?;
        let provider = self.providers.get(&identity.provider_id).ok_or(TokenError::NoTokens)?;
        valid_access_token(&self.db, &self.cipher, &self.locks, provider, identity_id).await
    }

    /// The opened tokens of an identity, read inside `db` (the transaction that removes it).
    pub async fn held(&self, db: &impl ConnectionTrait, identity_id: &str) -> Option<HeldTokens> {
        match held_tokens(db, &self.cipher, identity_id).await {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(identity = identity_id, %error, "could not read the stored tokens, so they cannot be revoked at the provider");
                None
            }
        }
    }

    /// Tells the provider to forget latchkey's tokens. Best effort: the identity is already
    /// gone here, and a provider that is down must not keep anyone from unlinking.
    pub async fn revoke_at_provider(&self, provider_id: &str, tokens: Option<HeldTokens>) {
        let (Some(provider), Some((access, refresh))) = (self.providers.get(provider_id), tokens) else { return };
        if let Err(error) = provider.revoke(access.as_deref(), refresh.as_deref()).await {
            tracing::warn!(provider = provider_id, %error, "could not revoke latchkey's tokens at the provider");
        }
    }
}

/// An identity's opened tokens: (access, refresh).
pub type HeldTokens = (Option<String>, Option<String>);

/// Replaces the stored tokens of an identity with fresh ones from a sign-in or link.
/// The identity id and the column are the associated data: a sealed token only opens where
/// it was stored.
pub async fn store(
    db: &impl ConnectionTrait,
    cipher: &TokenCipher,
    identity_id: &str,
    tokens: &ProviderTokens,
) -> Result<(), DbErr> {
    let mut writes = Batch::new(db);
    store_in(&mut writes, cipher, identity_id, tokens);
    writes.run(db).await
}

/// Like [`store`], added to `writes`.
pub fn store_in(writes: &mut Batch, cipher: &TokenCipher, identity_id: &str, tokens: &ProviderTokens) {
    let Some(access_token) = &tokens.access_token else { return };
    let access = cipher.seal(access_token.expose(), identity_id, TokenColumn::Access);
    let refresh =
        tokens.refresh_token.as_ref().map(|t| cipher.seal(t.expose(), identity_id, TokenColumn::Refresh).ciphertext);
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
    // One statement: two sign-ins of one identity at once both store, the later one wins,
    // and readers never see the row missing.
    use provider_token::Column;
    let replace_all = || {
        OnConflict::column(Column::IdentityId)
            .update_columns([
                Column::KeyId,
                Column::AccessToken,
                Column::RefreshToken,
                Column::ExpiresAt,
                Column::Scopes,
                Column::Status,
                Column::RefreshLockUntil,
                Column::UpdatedAt,
            ])
            .to_owned()
    };
    static TEXT: SqlText = SqlText::new();
    writes.upsert(&TEXT, row, replace_all);
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
    Ok(Some(cipher.open(&sealed, identity_id, TokenColumn::Access)?))
}

/// The opened tokens of an identity, for revocation.
async fn held_tokens(
    db: &impl ConnectionTrait,
    cipher: &TokenCipher,
    identity_id: &str,
) -> Result<Option<HeldTokens>, TokenError> {
    let Some(row) = provider_token::Entity::find_by_id(identity_id.to_string()).one(db).await? else {
        return Ok(None);
    };
    let open = |ciphertext: String, column| match cipher.open(
        &Sealed { key_id: row.key_id.clone(), ciphertext },
        identity_id,
        column,
    ) {
        Ok(token) => Some(token),
        Err(error) => {
            // The provider keeps a grant latchkey can no longer name: someone should know.
            tracing::warn!(identity = identity_id, ?column, %error, "a stored token cannot be opened, so it cannot be revoked at the provider");
            None
        }
    };
    let access = open(row.access_token.clone(), TokenColumn::Access);
    let refresh = row.refresh_token.clone().and_then(|sealed| open(sealed, TokenColumn::Refresh));
    Ok(Some((access, refresh)))
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
