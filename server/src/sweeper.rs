//! Housekeeping in the background: rows that can no longer be used are deleted (expired
//! sessions, pending sign-ins and links, activity older than its retention), and provider
//! tokens sealed under a previous key are sealed again, so that key can be dropped.
//!
//! Every instance sweeps. Each step is one conditional statement, so instances sweeping at the
//! same moment do no harm; a failed sweep is logged and tried again next time.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::config::SessionSettings;
use crate::storage::Database;
use crate::storage::entities::{activity_event, logout_token, pending_link, pending_login, session, signing_key};
use crate::tokens::{TokenCipher, TokenError, reseal_old_rows};
use crate::util::earlier;

/// How often each instance sweeps.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Provider tokens sealed again per sweep: a small write each time, never a long lock.
const RESEAL_BATCH: u64 = 500;

/// What one sweep removed or sealed again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub pending_logins: u64,
    pub pending_links: u64,
    pub logout_tokens: u64,
    /// Access-token signing keys no longer published (their last token has expired).
    pub signing_keys: u64,
    pub activity_events: u64,
    pub tokens_resealed: u64,
}

#[derive(Clone)]
pub struct Sweeper {
    db: Database,
    cipher: Arc<TokenCipher>,
    sessions: SessionSettings,
    activity_retention: Duration,
}

impl Sweeper {
    pub fn new(
        db: Database,
        cipher: Arc<TokenCipher>,
        sessions: SessionSettings,
        activity_retention: Duration,
    ) -> Self {
        Sweeper { db, cipher, sessions, activity_retention }
    }

    /// One sweep, now.
    pub async fn sweep(&self) -> Result<Swept, TokenError> {
        let now = Utc::now();
        let db = self.db.writes();
        let idle_since = earlier(now, self.sessions.idle_timeout);
        let sessions = session::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(session::Column::ExpiresAt.lte(now))
                    .add(session::Column::LastSeenAt.lte(idle_since)),
            )
            .exec(db)
            .await?
            .rows_affected;
        let pending_logins =
            pending_login::Entity::delete_many().filter(pending_login::Column::ExpiresAt.lte(now)).exec(db).await?;
        let pending_links =
            pending_link::Entity::delete_many().filter(pending_link::Column::ExpiresAt.lte(now)).exec(db).await?;
        let logout_tokens =
            logout_token::Entity::delete_many().filter(logout_token::Column::ExpiresAt.lte(now)).exec(db).await?;
        let signing_keys =
            signing_key::Entity::delete_many().filter(signing_key::Column::PublishedUntil.lte(now)).exec(db).await?;
        let activity_events = activity_event::Entity::delete_many()
            .filter(activity_event::Column::CreatedAt.lt(earlier(now, self.activity_retention)))
            .exec(db)
            .await?;
        let tokens_resealed = reseal_old_rows(db, &self.cipher, RESEAL_BATCH).await?;
        Ok(Swept {
            sessions,
            pending_logins: pending_logins.rows_affected,
            pending_links: pending_links.rows_affected,
            logout_tokens: logout_tokens.rows_affected,
            signing_keys: signing_keys.rows_affected,
            activity_events: activity_events.rows_affected,
            tokens_resealed,
        })
    }

    /// Sweeps every [`SWEEP_INTERVAL`], the first a minute after start-up (out of the way of
    /// the first requests), until the runtime stops.
    pub fn spawn(self) {
        tokio::spawn(async move {
            let first = tokio::time::Instant::now() + Duration::from_secs(60);
            let mut every = tokio::time::interval_at(first, SWEEP_INTERVAL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match self.sweep().await {
                    Ok(swept) if swept != Swept::default() => tracing::info!(?swept, "swept"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "the sweep failed; trying again next time"),
                }
            }
        });
    }
}
