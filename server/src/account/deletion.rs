//! Deleting an account: the user, identities, sessions and provider tokens go; the activity
//! log's rows stay, anonymised.

use super::{AccountError, Accounts, delete_user, identities_of, require_recent};
use crate::activity::{self, ActivityKind, Event};
use crate::session::Session;
use crate::storage::retry;

impl Accounts {
    /// Deletes the signed-in person's account. Needs a recent sign-in. latchkey's tokens are
    /// revoked at each provider afterwards.
    pub async fn delete(&self, session: &Session) -> Result<(), AccountError> {
        require_recent(session)?;
        let held = retry(|| async move {
            let txn = self.db.begin().await?;
            let mut held = Vec::new();
            for identity in identities_of(&txn, session.user_id()).await? {
                let tokens = self.tokens.held(&txn, &identity.id).await;
                held.push((identity.provider_id, tokens));
            }
            delete_user(&txn, session.user_id()).await?;
            // Anonymous like the rest of the person's log: no address or browser either.
            activity::record(&txn, Event::anonymous(ActivityKind::AccountDeleted)).await?;
            txn.commit().await?;
            Ok::<_, AccountError>(held)
        })
        .await?;
        tracing::info!(user = %session.user_id(), "account deleted");
        for (provider_id, tokens) in held {
            self.tokens.revoke_at_provider(&provider_id, tokens).await;
        }
        Ok(())
    }
}
