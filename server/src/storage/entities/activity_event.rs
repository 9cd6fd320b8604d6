use latchkey_types::ActivityKind;
use sea_orm::entity::prelude::*;

/// One entry of a person's security activity log (the table keeps its first name, `audit_events`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `None` once the account is deleted (the event is kept, anonymised).
    pub user_id: Option<String>,
    pub kind: ActivityKind,
    pub provider_id: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
