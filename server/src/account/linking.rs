//! Linking and unlinking identities after sign-in: the identity waiting in this browser to
//! be linked (a sign-in whose verified email belongs to an existing account), and removing
//! an identity. Linking through a provider is the login flow's (`login`).

use latchkey_types::{PendingLinkInfo, ProviderId};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, QuerySelect};

use super::{AccountError, Accounts, ProvisionError, attach_identity, identities_of, require_recent, unlink};
use crate::activity::{self, ActivityKind, Event};
use crate::provider::VerifiedIdentity;
use crate::session::{ClientInfo, Session};
use crate::storage::entities::{pending_link, user};
use crate::storage::retry;
use crate::util::sha256_hex;

impl Accounts {
    /// The identity waiting in this browser (`browser_token`: its binding cookie) to be
    /// linked to the signed-in account, if any.
    pub async fn pending_link(
        &self,
        session: &Session,
        browser_token: Option<&str>,
    ) -> Result<Option<PendingLinkInfo>, DbErr> {
        let Some(pending) = self.find_pending_link(session, browser_token).await? else { return Ok(None) };
        Ok(Some(PendingLinkInfo {
            provider_name: self.providers.name_of(&pending.provider_id),
            provider: ProviderId::new(pending.provider_id),
            email: pending.email,
            name: pending.name,
        }))
    }

    async fn find_pending_link(
        &self,
        session: &Session,
        browser_token: Option<&str>,
    ) -> Result<Option<pending_link::Model>, DbErr> {
        let Some(browser) = browser_token else { return Ok(None) };
        pending_link::Entity::find()
            .filter(pending_link::Column::BrowserHash.eq(sha256_hex(browser)))
            .filter(pending_link::Column::ExistingUserId.eq(session.user_id()))
            .filter(pending_link::Column::ExpiresAt.gt(chrono::Utc::now()))
            .one(self.db.reads())
            .await
    }

    /// Links the identity waiting in this browser to the signed-in account (one click, after
    /// the person proved they own the account by signing in to it, recently).
    pub async fn confirm_pending_link(
        &self,
        session: &Session,
        browser_token: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        require_recent(session)?;
        let pending = self.find_pending_link(session, browser_token).await?.ok_or(AccountError::NotFound)?;
        let verified = VerifiedIdentity {
            issuer: pending.issuer.clone(),
            subject: pending.subject.clone(),
            name: pending.name.clone(),
            email: pending.email.clone(),
            email_verified: pending.email_verified,
            picture: pending.picture.clone(),
            // Not kept while the link waits; the provider's tokens arrive at its next sign-in.
            tokens: Default::default(),
            // The session stays the one it was signed in with.
            provider_session: Default::default(),
        };
        let (pending, verified) = (&pending, &verified);
        retry(|| async move {
            let txn = self.db.begin().await?;
            let deleted = pending_link::Entity::delete_by_id(pending.token_hash.clone()).exec(&txn).await?;
            if deleted.rows_affected != 1 {
                return Err(AccountError::NotFound);
            }
            attach_identity(&txn, session.user_id(), &pending.provider_id, verified).await.map_err(|e| match e {
                ProvisionError::Conflict => AccountError::LinkedElsewhere,
                ProvisionError::Database(e) => AccountError::Database(e),
            })?;
            let mut event = Event::by(session.user_id(), ActivityKind::IdentityLinked).provider(&pending.provider_id);
            event.detail = pending.email.clone();
            activity::record(&txn, event.from(client)).await?;
            txn.commit().await?;
            Ok(())
        })
        .await
    }

    /// Forgets the identity waiting in this browser.
    pub async fn dismiss_pending_link(&self, session: &Session, browser_token: Option<&str>) -> Result<(), DbErr> {
        if let Some(pending) = self.find_pending_link(session, browser_token).await? {
            retry(|| pending_link::Entity::delete_by_id(pending.token_hash.clone()).exec(self.db.writes())).await?;
        }
        Ok(())
    }

    /// Removes one of the person's identities: never the last one, only after a recent
    /// sign-in. latchkey's tokens for it are revoked at the provider afterwards.
    pub async fn unlink(&self, session: &Session, identity_id: &str, client: &ClientInfo) -> Result<(), AccountError> {
        require_recent(session)?;
        let (provider_id, held) = retry(|| async move {
            let txn = self.db.begin().await?;
            lock_user(&txn, session.user_id()).await?;
            let identities = identities_of(&txn, session.user_id()).await?;
            let Some(target) = identities.iter().find(|i| i.id == identity_id) else {
                return Err(AccountError::NotFound);
            };
            if identities.len() <= 1 {
                return Err(AccountError::LastIdentity);
            }
            let held = self.tokens.held(&txn, &target.id).await;
            unlink(&txn, target, &session.record.id).await?;
            let mut event = Event::by(session.user_id(), ActivityKind::IdentityUnlinked).provider(&target.provider_id);
            event.detail = target.email.clone();
            activity::record(&txn, event.from(client)).await?;
            txn.commit().await?;
            Ok((target.provider_id.clone(), held))
        })
        .await?;
        // After the commit: no transaction waits on the provider.
        self.tokens.revoke_at_provider(&provider_id, held).await;
        Ok(())
    }
}

/// Holds the user's row until the transaction ends, so that two unlinks of one account take
/// turns: each counts the identities the other left, and the last one always stays. (SQLite's
/// single writer already serialises them; PostgreSQL needs the row lock.)
async fn lock_user(txn: &impl ConnectionTrait, user_id: &str) -> Result<(), DbErr> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        user::Entity::find_by_id(user_id.to_string()).lock_exclusive().one(txn).await?;
    }
    Ok(())
}
