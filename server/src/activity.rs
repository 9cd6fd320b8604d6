//! The security activity log: what happened to an account, when, from where.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

pub use latchkey_types::ActivityKind;

use crate::session::ClientInfo;
use crate::storage::entities::activity_event;

/// One event to record.
pub struct Event<'a> {
    pub user_id: Option<&'a str>,
    pub kind: ActivityKind,
    pub provider_id: Option<&'a str>,
    pub detail: Option<String>,
    pub client: Option<&'a ClientInfo>,
}

pub async fn record(db: &impl ConnectionTrait, event: Event<'_>) -> Result<(), DbErr> {
    activity_event::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(event.user_id.map(str::to_string)),
        kind: Set(event.kind),
        provider_id: Set(event.provider_id.map(str::to_string)),
        detail: Set(event.detail),
        ip: Set(event.client.and_then(|c| c.ip.clone())),
        user_agent: Set(event.client.and_then(|c| c.user_agent.clone())),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A page of a user's events, newest first, and the total number of pages.
pub async fn page_of(
    db: &impl ConnectionTrait,
    user_id: &str,
    page: u64,
    per_page: u64,
) -> Result<(Vec<activity_event::Model>, u64), DbErr> {
    let paginator = activity_event::Entity::find()
        .filter(activity_event::Column::UserId.eq(user_id))
        .order_by_desc(activity_event::Column::CreatedAt)
        .order_by_desc(activity_event::Column::Id)
        .paginate(db, per_page.max(1));
    let pages = paginator.num_pages().await?;
    Ok((paginator.fetch_page(page).await?, pages))
}
