//! The app's own sessions: a random token in an HttpOnly cookie, only its SHA-256 stored,
//! a new one at every sign-in, idle and absolute expiry, revocable server-side.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use latchkey_types::{SessionId, SessionInfo};
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable, JoinType, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, RelationTrait, SelectTwoModel, Set,
};

use crate::account;
use crate::activity::{self, ActivityKind};
use crate::config::SessionSettings;
use crate::provider::logout_token::LogoutRequest;
use crate::provider::{ProviderSession, Providers};
use crate::storage::entities::{identity, logout_token, session, user};
use crate::storage::prepared::{self, Batch, SqlText};
use crate::storage::{self, Database, IdentityWithTokens, InlineReads, SessionWith, retry};
use crate::tokens::{Sealed, TokenCipher, TokenColumn};
use crate::util::{later, random_token, sha256_hex, to_delta};

/// A read of a session (by its token's hash) with something of each of its user's identities,
/// in one statement on the inline SQLite readers.
type InlineRead<I> = fn(&InlineReads, &str) -> Result<Option<SessionWith<I>>, DbErr>;

/// How recent a sign-in must be for linking, unlinking or deleting the account.
pub const RECENT_SIGN_IN: TimeDelta = TimeDelta::minutes(10);

/// `last_seen_at` is written at most this often (or a quarter of the idle timeout, if that is
/// shorter), so reading pages does not write.
const TOUCH_INTERVAL: TimeDelta = TimeDelta::minutes(5);

/// Who is signing in and from where, recorded on the session.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// Bytes of a `User-Agent` kept with a session or an activity event: every real browser's
/// fits, and a client cannot make rows of its own size.
const MAX_STORED_USER_AGENT: usize = 512;

impl ClientInfo {
    /// The `User-Agent` as stored: at most [`MAX_STORED_USER_AGENT`] bytes.
    pub fn stored_user_agent(&self) -> Option<String> {
        self.user_agent.clone().map(|ua| truncate(ua, MAX_STORED_USER_AGENT))
    }
}

/// What a back-channel logout did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoggedOut {
    /// This many sessions ended (none is fine: the person may have signed out already).
    Ended(usize),
    /// The token was seen before: nothing changed.
    Replayed,
}

/// A request's live session and the person it belongs to: what every service that acts for
/// someone takes, instead of cookies.
#[derive(Clone, Debug)]
pub struct Session {
    pub record: session::Model,
    pub user: user::Model,
}

impl Session {
    pub fn user_id(&self) -> &str {
        &self.user.id
    }

    /// Signed in within [`RECENT_SIGN_IN`]: sensitive changes need it.
    pub fn is_recent(&self) -> bool {
        Utc::now() - self.record.created_at < RECENT_SIGN_IN
    }
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
    providers: Providers,
    /// Seals each session's sign-in ID token.
    cipher: Arc<TokenCipher>,
}

impl Sessions {
    pub fn new(db: Database, settings: SessionSettings, providers: Providers, cipher: Arc<TokenCipher>) -> Self {
        Sessions { db, settings, providers, cipher }
    }

    /// Starts a new session for a user who has just authenticated, or (`renewing`) a new
    /// token for a session that linked an identity: it keeps that session's sign-in time and
    /// absolute expiry, so linking never makes a sign-in recent again. The row is added to
    /// `writes`: the session exists once they ran.
    pub fn issue(
        &self,
        writes: &mut Batch,
        user_id: &str,
        identity_id: Option<&str>,
        provider_session: &ProviderSession,
        client: &ClientInfo,
        renewing: Option<&session::Model>,
    ) -> Result<IssuedSession, DbErr> {
        let token = random_token();
        let now = Utc::now();
        let (created_at, expires_at) = match renewing {
            Some(previous) => (previous.created_at, previous.expires_at),
            None => (now, later(now, self.settings.absolute_timeout)),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let id_token =
            provider_session.id_token.as_ref().map(|t| self.cipher.seal(t.expose(), &id, TokenColumn::IdToken));
        let session = session::ActiveModel {
            id: Set(id),
            token_hash: Set(sha256_hex(&token)),
            user_id: Set(user_id.to_string()),
            identity_id: Set(identity_id.map(str::to_string)),
            created_at: Set(created_at),
            last_seen_at: Set(now),
            expires_at: Set(expires_at),
            user_agent: Set(client.stored_user_agent()),
            ip: Set(client.ip.clone()),
            provider_sid: Set(provider_session.sid.clone()),
            id_token_key_id: Set(id_token.as_ref().map(|sealed| sealed.key_id.clone())),
            id_token: Set(id_token.map(|sealed| sealed.ciphertext)),
        };
        static TEXT: SqlText = SqlText::new();
        let session = writes.insert(&TEXT, session)?;
        Ok(IssuedSession { token, session })
    }

    /// The live session and its user for a cookie token; `None` if unknown or expired.
    /// Expired sessions are deleted on sight; `last_seen_at` is kept (roughly) current.
    /// Neither write can fail the request: the answer is already known.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Session>, DbErr> {
        let found = match self.db.inline() {
            Some(inline) if is_plausible(token) => inline.session_with_user(&sha256_hex(token))?.filter(is_enabled),
            Some(_) => None,
            None => Self::find(self.db.reads(), token).await?,
        };
        Ok(self.admit(found).await)
    }

    /// Like [`Sessions::authenticate`], with the user's identities read in the same statement
    /// where SQLite is read inline (`/api/me` needs nothing else: one read instead of two).
    pub async fn authenticate_with_identities(
        &self,
        token: &str,
    ) -> Result<Option<(Session, Vec<identity::Model>)>, DbErr> {
        static POOLED: PooledRead<identity::Model> =
            PooledRead { text: SqlText::new(), with_tokens: false, identity: identity_in };
        self.authenticate_with(token, InlineReads::session_with_identities, &POOLED).await
    }

    /// Like [`Sessions::authenticate_with_identities`], each identity with the state of the
    /// tokens held for it: all the pages show of the person.
    pub async fn authenticate_with_identities_and_tokens(
        &self,
        token: &str,
    ) -> Result<Option<(Session, Vec<IdentityWithTokens>)>, DbErr> {
        static POOLED: PooledRead<IdentityWithTokens> =
            PooledRead { text: SqlText::new(), with_tokens: true, identity: identity_with_tokens_in };
        self.authenticate_with(token, InlineReads::session_with_identities_and_tokens, &POOLED).await
    }

    /// The session, its user and something of each of the user's identities, in one
    /// statement: `inline` where SQLite is read inline, `pooled` elsewhere.
    async fn authenticate_with<I>(
        &self,
        token: &str,
        inline: InlineRead<I>,
        pooled: &PooledRead<I>,
    ) -> Result<Option<(Session, Vec<I>)>, DbErr> {
        if !is_plausible(token) {
            return Ok(None);
        }
        let token_hash = sha256_hex(token);
        let found = match self.db.inline() {
            Some(reads) => inline(reads, &token_hash)?,
            None => pooled.read(self.db.reads(), &token_hash).await?,
        };
        let Some((session, user, identities)) = found else { return Ok(None) };
        let found = Some((session, user)).filter(is_enabled);
        Ok(self.admit(found).await.map(|session| (session, identities)))
    }

    /// A session found by its token, if it is still live: an expired one is deleted (a write
    /// that cannot fail the request), a live one's use noted now and then.
    async fn admit(&self, found: Option<(session::Model, user::Model)>) -> Option<Session> {
        let (session, user) = found?;
        let now = Utc::now();
        if self.is_expired(&session, now) {
            let deleted =
                storage::retry(|| session::Entity::delete_by_id(session.id.clone()).exec(self.db.writes())).await;
            if let Err(error) = deleted {
                tracing::warn!(%error, "could not delete an expired session (it is refused all the same)");
            }
            return None;
        }
        let touch_interval = TOUCH_INTERVAL.min(to_delta(self.settings.idle_timeout) / 4);
        if now - session.last_seen_at >= touch_interval {
            // Off the response path, and conditional, so the parallel requests of one page
            // write once between them; a missed touch is made up on a later request.
            let touch = session::Entity::update_many()
                .col_expr(session::Column::LastSeenAt, Expr::value(now))
                .filter(session::Column::Id.eq(session.id.clone()))
                .filter(session::Column::LastSeenAt.lte(now - touch_interval));
            let db = self.db.writes().clone();
            tokio::spawn(async move {
                if let Err(error) = touch.exec(&db).await {
                    tracing::debug!(%error, "could not note the session's last use");
                }
            });
        }
        Some(Session { record: session, user })
    }

    /// The person's live sessions, most recently used first.
    pub async fn list(&self, current: &Session) -> Result<Vec<SessionInfo>, DbErr> {
        self.list_of(current.user_id(), Some(&current.record.id)).await
    }

    /// A user's live sessions, most recently used first; `current` is the asking browser's.
    pub async fn list_of(&self, user_id: &str, current: Option<&str>) -> Result<Vec<SessionInfo>, DbErr> {
        let identities = account::identities_of(self.db.reads(), user_id).await?;
        let sessions = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .order_by_desc(session::Column::LastSeenAt)
            .all(self.db.reads())
            .await?;
        let now = Utc::now();
        Ok(sessions
            .into_iter()
            .filter(|s| !self.is_expired(s, now))
            .map(|s| {
                let provider_id = s
                    .identity_id
                    .as_ref()
                    .and_then(|id| identities.iter().find(|i| &i.id == id))
                    .map(|i| &i.provider_id);
                SessionInfo {
                    current: Some(s.id.as_str()) == current,
                    provider: provider_id.map(|id| self.providers.name_of(id)),
                    provider_can_end_it: provider_id
                        .and_then(|id| self.providers.get(id))
                        .is_some_and(|provider| provider.offers_backchannel_logout()),
                    id: SessionId::new(s.id),
                    created_at: s.created_at,
                    last_seen_at: s.last_seen_at,
                    user_agent: s.user_agent,
                    ip: s.ip,
                }
            })
            .collect())
    }

    /// Ends one of the person's sessions (any browser); `false` if they have no such session.
    pub async fn revoke(&self, current: &Session, session_id: &str, client: &ClientInfo) -> Result<bool, DbErr> {
        retry(|| async move {
            let txn = self.db.begin().await?;
            let deleted = session::Entity::delete_many()
                .filter(session::Column::Id.eq(session_id))
                .filter(session::Column::UserId.eq(current.user_id()))
                .exec(&txn)
                .await?;
            if deleted.rows_affected == 0 {
                return Ok(false);
            }
            let event = activity::Event::by(current.user_id(), ActivityKind::SessionRevoked).from(client);
            activity::record(&txn, event).await?;
            txn.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Ends every session of the person but this one ("Sign out everywhere else"); returns how
    /// many ended. Recorded in the activity log when any did.
    pub async fn end_others(&self, current: &Session, client: &ClientInfo) -> Result<u64, DbErr> {
        retry(|| async move {
            let txn = self.db.begin().await?;
            let ended = session::Entity::delete_many()
                .filter(session::Column::UserId.eq(current.user_id()))
                .filter(session::Column::Id.ne(current.record.id.as_str()))
                .exec(&txn)
                .await?
                .rows_affected;
            if ended > 0 {
                let event = activity::Event::by(current.user_id(), ActivityKind::OtherSessionsEnded).from(client);
                activity::record(&txn, event).await?;
            }
            txn.commit().await?;
            Ok(ended)
        })
        .await
    }

    /// Ends the sessions a provider's back-channel logout names (already verified, see
    /// [`crate::provider::logout_token`]): those signed in with its provider session `sid`,
    /// or with the identity `sub`, or both. Each lands in its owner's activity log. The token's
    /// id is remembered first: a replay ends nothing and is reported as [`LoggedOut::Replayed`].
    pub async fn end_for_provider(&self, provider_id: &str, request: &LogoutRequest) -> Result<LoggedOut, DbErr> {
        if request.subject.is_none() && request.session.is_none() {
            // Names nobody: never read as "every session of this provider".
            return Ok(LoggedOut::Ended(0));
        }
        retry(|| async move {
            let txn = self.db.begin().await?;
            let remembered = logout_token::Entity::insert(logout_token::ActiveModel {
                provider_id: Set(provider_id.to_string()),
                jti_hash: Set(sha256_hex(&request.token_id)),
                expires_at: Set(request.remember_until),
            })
            .on_conflict(
                OnConflict::columns([logout_token::Column::ProviderId, logout_token::Column::JtiHash])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
            if remembered == 0 {
                return Ok(LoggedOut::Replayed);
            }
            let identities: Vec<String> = identity::Entity::find()
                .select_only()
                .column(identity::Column::Id)
                .filter(identity::Column::ProviderId.eq(provider_id))
                .apply_if(request.subject.as_deref(), |query, subject| {
                    query.filter(identity::Column::Subject.eq(subject))
                })
                .into_tuple()
                .all(&txn)
                .await?;
            let sessions = session::Entity::find()
                .filter(session::Column::IdentityId.is_in(identities))
                .apply_if(request.session.as_deref(), |query, sid| query.filter(session::Column::ProviderSid.eq(sid)))
                .all(&txn)
                .await?;
            session::Entity::delete_many()
                .filter(session::Column::Id.is_in(sessions.iter().map(|ended| ended.id.clone())))
                .exec(&txn)
                .await?;
            for ended in &sessions {
                let event =
                    activity::Event::by(&ended.user_id, ActivityKind::SignedOutByProvider).provider(provider_id);
                activity::record(&txn, event).await?;
            }
            txn.commit().await?;
            Ok(LoggedOut::Ended(sessions.len()))
        })
        .await
    }

    /// The ID token this session signed in with, opened; `None` when there is none or it no
    /// longer opens (sealed under a key since retired): signing out at the provider then goes
    /// without the hint.
    pub fn sign_in_id_token(&self, current: &Session) -> Option<String> {
        let record = &current.record;
        let sealed = Sealed { key_id: record.id_token_key_id.clone()?, ciphertext: record.id_token.clone()? };
        match self.cipher.open(&sealed, &record.id, TokenColumn::IdToken) {
            Ok(id_token) => Some(id_token),
            Err(error) => {
                tracing::warn!(session = %record.id, %error, "the sign-in's ID token cannot be opened");
                None
            }
        }
    }

    /// The provider of the identity this session signed in with, if it is still linked.
    pub async fn provider_of(&self, current: &Session) -> Result<Option<String>, DbErr> {
        let Some(identity_id) = current.record.identity_id.clone() else { return Ok(None) };
        identity::Entity::find_by_id(identity_id)
            .select_only()
            .column(identity::Column::ProviderId)
            .into_tuple()
            .one(self.db.reads())
            .await
    }

    /// Ends this session (signing out).
    pub async fn end(&self, current: &Session) -> Result<(), DbErr> {
        retry(|| async move {
            let txn = self.db.begin().await?;
            session::Entity::delete_by_id(current.record.id.clone()).exec(&txn).await?;
            activity::record(&txn, activity::Event::by(current.user_id(), ActivityKind::SignedOut)).await?;
            txn.commit().await
        })
        .await
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
        if !is_plausible(token) {
            return Ok(None);
        }
        static TEXT: SqlText = SqlText::new();
        let token_hash = sha256_hex(token);
        let statement = TEXT.statement(db.get_database_backend(), vec![token_hash.clone().into()], || {
            session::Entity::find().filter(session::Column::TokenHash.eq(token_hash)).find_also_related(user::Entity)
        });
        let found = prepared::one::<SelectTwoModel<session::Model, user::Model>>(db, statement).await?;
        Ok(found.and_then(|(session, user)| user.map(|user| (session, user))).filter(is_enabled))
    }

    pub fn is_expired(&self, session: &session::Model, now: DateTime<Utc>) -> bool {
        now >= session.expires_at || now - session.last_seen_at >= to_delta(self.settings.idle_timeout)
    }
}

/// A read of a session (by its token's hash), its user and something of each of the user's
/// identities, in one statement through a pool (PostgreSQL): each statement costs a round trip
/// there, and sqlx one more as it checks the connection handed back. The session's columns
/// come as `A_…`, the user's as `B_…` (sea-orm's names for two models), an identity's as
/// `C_…`, with the state of its tokens as `account::with_token_state` names it where asked.
struct PooledRead<I> {
    text: SqlText,
    with_tokens: bool,
    /// What of the identity a row holds (`None`: the user has none).
    identity: fn(&QueryResult) -> Result<Option<I>, DbErr>,
}

impl<I> PooledRead<I> {
    async fn read(&self, db: &impl ConnectionTrait, token_hash: &str) -> Result<Option<SessionWith<I>>, DbErr> {
        let statement = self.text.statement(db.get_database_backend(), vec![token_hash.into()], || {
            let mut select = session::Entity::find()
                .filter(session::Column::TokenHash.eq(token_hash))
                .find_also_related(user::Entity)
                .join(JoinType::LeftJoin, user::Relation::Identity.def())
                .order_by_asc(identity::Column::CreatedAt);
            for column in identity::Column::iter() {
                select = select.column_as(Expr::col((identity::Entity, column)), format!("C_{}", column.as_str()));
            }
            if self.with_tokens {
                select = account::with_token_state(select);
            }
            select
        });
        let rows = db.query_all(statement).await?;
        let Some(first) = rows.first() else { return Ok(None) };
        let (session, user) =
            (session::Model::from_query_result(first, "A_")?, user::Model::from_query_result(first, "B_")?);
        let identities = rows.iter().map(self.identity).filter_map(Result::transpose).collect::<Result<_, _>>()?;
        Ok(Some((session, user, identities)))
    }
}

fn identity_in(row: &QueryResult) -> Result<Option<identity::Model>, DbErr> {
    // A user without identities still has its one row, with NULL identity columns.
    if row.try_get::<Option<String>>("C_", "id")?.is_none() {
        return Ok(None);
    }
    identity::Model::from_query_result(row, "C_").map(Some)
}

fn identity_with_tokens_in(row: &QueryResult) -> Result<Option<IdentityWithTokens>, DbErr> {
    let Some(identity) = identity_in(row)? else { return Ok(None) };
    let status = row.try_get("", "token_status")?;
    Ok(Some((identity, status, row.try_get("", "token_expires_at")?, row.try_get("", "token_scopes")?)))
}

/// A cookie value that could be a session token (anything else is not looked up).
fn is_plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= 128
}

/// A disabled account has no live session, whatever is left in the table.
fn is_enabled((_, user): &(session::Model, user::Model)) -> bool {
    user.disabled_at.is_none()
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
