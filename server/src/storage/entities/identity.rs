use sea_orm::entity::prelude::*;

/// An account at an identity provider, keyed by `(issuer, subject)` and owned by one user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    /// The configured provider this identity came through (`/auth/{provider_id}/…`).
    pub provider_id: String,
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub picture: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub last_used_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// The provider tokens held for this identity, if any.
    #[sea_orm(has_one = "super::provider_token::Entity")]
    Tokens,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
