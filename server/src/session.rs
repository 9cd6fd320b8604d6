//! The app's own sessions: a random token in an HttpOnly cookie, only its SHA-256 stored,
//! a new one at every sign-in, idle and absolute expiry, revocable server-side.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use crate::config::SessionSettings;
use crate::storage::entities::{session, user};
use crate::storage::{self, Database};
use crate::util::{random_token, sha256_hex};

/// `last_seen_at` is written at most this often, so reads stay cheap.
const TOUCH_INTERVAL: TimeDelta = TimeDelta::seconds(60);
/// A page load never waits longer than this for the writer to note `last_seen_at`; a
/// missed touch is made up on a later request.
const TOUCH_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Who is signing in and from where, recorded on the session.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// A session just issued: the token goes into the cookie and nowhere else.
pub struct IssuedSession {
    pub token: String,
    pub session: session::Model,
}

#[derive(Clone)]
pub struct Sessions {
    db: Database,
    settings: SessionSettings,
}

impl Sessions {
    pub fn new(db: Database, settings: SessionSettings) -> Self {
        Sessions { db, settings }
    }

    pub fn settings(&self) -> SessionSettings {
        self.settings
    }

    /// Starts a new session for a user who has just authenticated.
    pub async fn issue(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        user_id: &str,
        identity_id: Option<&str>,
        client: &ClientInfo,
    ) -> Result<IssuedSession, DbErr> {
        let token = random_token();
        let now = Utc::now();
        let session = session::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            token_hash: Set(sha256_hex(&token)),
            user_id: Set(user_id.to_string()),
            identity_id: Set(identity_id.map(str::to_string)),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(now + to_delta(self.settings.absolute_timeout)),
            user_agent: Set(client.user_agent.clone().map(|ua| truncate(ua, 512))),
            ip: Set(client.ip.clone()),
        }
        .insert(db)
        .await?;
        Ok(IssuedSession { token, session })
    }

    /// The live session and its user for a cookie token; `None` if unknown or expired.
    /// Expired sessions are deleted on sight; `last_seen_at` is kept (roughly) current.
    /// Neither write can fail the request: the answer is already known.
    pub async fn authenticate(&self, token: &str) -> Result<Option<(session::Model, user::Model)>, DbErr> {
        let Some((session, user)) = Self::find(self.db.reads(), token).await? else { return Ok(None) };
        let now = Utc::now();
        if self.is_expired(&session, now) {
            let deleted =
                storage::retry(|| session::Entity::delete_by_id(session.id.clone()).exec(self.db.writes())).await;
            if let Err(error) = deleted {
                tracing::warn!(%error, "could not delete an expired session (it is refused all the same)");
            }
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_INTERVAL {
            // Conditional, so the parallel requests of one page write once between them.
            let touch = session::Entity::update_many()
                .col_expr(session::Column::LastSeenAt, Expr::value(now))
                .filter(session::Column::Id.eq(session.id.clone()))
                .filter(session::Column::LastSeenAt.lte(now - TOUCH_INTERVAL))
                .exec(self.db.writes());
            match tokio::time::timeout(TOUCH_WAIT, touch).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::debug!(%error, "could not note the session's last use"),
                Err(_) => tracing::debug!("the writer is busy: the session's last use is noted later"),
            }
        }
        Ok(Some((session, user)))
    }

    /// The live session and its user for a cookie token, read through `db` (for example
    /// inside a transaction) and writing nothing.
    pub async fn find_live(
        &self,
        db: &impl ConnectionTrait,
        token: &str,
    ) -> Result<Option<(session::Model, user::Model)>, DbErr> {
        let found = Self::find(db, token).await?;
        Ok(found.filter(|(session, _)| !self.is_expired(session, Utc::now())))
    }

    async fn find(db: &impl ConnectionTrait, token: &str) -> Result<Option<(session::Model, user::Model)>, DbErr> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let found = session::Entity::find()
            .filter(session::Column::TokenHash.eq(sha256_hex(token)))
            .find_also_related(user::Entity)
            .one(db)
            .await?;
        Ok(found.and_then(|(session, user)| user.map(|user| (session, user))))
    }

    /// Ends the session behind a cookie token, if there is one.
    pub async fn revoke_token(&self, token: &str) -> Result<bool, DbErr> {
        let token_hash = sha256_hex(token);
        let result = storage::retry(|| {
            session::Entity::delete_many()
                .filter(session::Column::TokenHash.eq(token_hash.clone()))
                .exec(self.db.writes())
        })
        .await?;
        Ok(result.rows_affected > 0)
    }

    pub fn is_expired(&self, session: &session::Model, now: DateTime<Utc>) -> bool {
        now >= session.expires_at || now - session.last_seen_at >= to_delta(self.settings.idle_timeout)
    }
}

fn to_delta(duration: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
