//! The security activity log: what happened to an account, when, from where.

use chrono::Utc;
pub use latchkey_types::ActivityKind;
use latchkey_types::{ActivityEvent, ActivityPage};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};

use crate::provider::Providers;
use crate::session::{ClientInfo, Session};
use crate::storage::Database;
use crate::storage::entities::activity_event;
use crate::storage::prepared::{Batch, SqlText};

/// Events per page of the log.
const PER_PAGE: u64 = 20;
/// Far beyond any real log; keeps the offset arithmetic in range.
const LAST_PAGE: u64 = 1_000_000;

/// One event to record.
pub struct Event<'a> {
    pub user_id: Option<&'a str>,
    pub kind: ActivityKind,
    pub provider_id: Option<&'a str>,
    pub detail: Option<String>,
    pub client: Option<&'a ClientInfo>,
}

impl<'a> Event<'a> {
    /// An event of `kind` in the log of `user_id`.
    pub fn by(user_id: &'a str, kind: ActivityKind) -> Self {
        Event { user_id: Some(user_id), ..Event::anonymous(kind) }
    }

    /// An event in no account's log (the account is gone).
    pub fn anonymous(kind: ActivityKind) -> Self {
        Event { user_id: None, kind, provider_id: None, detail: None, client: None }
    }

    /// The provider the event concerns.
    pub fn provider(self, provider_id: &'a str) -> Self {
        Event { provider_id: Some(provider_id), ..self }
    }

    pub fn detail(self, detail: impl Into<String>) -> Self {
        Event { detail: Some(detail.into()), ..self }
    }

    /// The browser and address the request came from.
    pub fn from(self, client: &'a ClientInfo) -> Self {
        Event { client: Some(client), ..self }
    }
}

pub async fn record(db: &impl ConnectionTrait, event: Event<'_>) -> Result<(), DbErr> {
    let mut writes = Batch::new(db);
    record_in(&mut writes, event)?;
    writes.run(db).await
}

/// Like [`record`], added to `writes`.
pub fn record_in(writes: &mut Batch, event: Event<'_>) -> Result<(), DbErr> {
    static TEXT: SqlText = SqlText::new();
    let row = activity_event::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(event.user_id.map(str::to_string)),
        kind: Set(event.kind),
        provider_id: Set(event.provider_id.map(str::to_string)),
        detail: Set(event.detail),
        ip: Set(event.client.and_then(|c| c.ip.clone())),
        user_agent: Set(event.client.and_then(ClientInfo::stored_user_agent)),
        created_at: Set(Utc::now()),
    };
    writes.insert(&TEXT, row)?;
    Ok(())
}

/// The log as people read it. Cheap to clone.
#[derive(Clone)]
pub struct ActivityLog {
    db: Database,
    providers: Providers,
}

impl ActivityLog {
    pub fn new(db: Database, providers: Providers) -> Self {
        ActivityLog { db, providers }
    }

    /// A page (zero-based) of the person's log, newest first.
    pub async fn page(&self, session: &Session, page: u64) -> Result<ActivityPage, DbErr> {
        self.page_of(session.user_id(), page).await
    }

    /// A page (zero-based) of a user's log, newest first.
    pub async fn page_of(&self, user_id: &str, page: u64) -> Result<ActivityPage, DbErr> {
        let page = page.min(LAST_PAGE);
        let paginator = activity_event::Entity::find()
            .filter(activity_event::Column::UserId.eq(user_id))
            .order_by_desc(activity_event::Column::CreatedAt)
            .order_by_desc(activity_event::Column::Id)
            .paginate(self.db.reads(), PER_PAGE);
        let pages = paginator.num_pages().await?;
        let events = paginator.fetch_page(page).await?;
        Ok(ActivityPage {
            events: events
                .into_iter()
                .map(|e| ActivityEvent {
                    kind: e.kind,
                    provider: e.provider_id.map(|id| self.providers.name_of(&id)),
                    detail: e.detail,
                    ip: e.ip,
                    user_agent: e.user_agent,
                    at: e.created_at,
                })
                .collect(),
            page,
            pages,
        })
    }
}
