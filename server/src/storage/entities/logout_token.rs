use sea_orm::entity::prelude::*;

/// A back-channel logout token already acted on, by provider and the SHA-256 of its `jti`: a second token with
/// the same id is a replay, on every instance. Kept until the token would be refused as too
/// old anyway (then the sweeper deletes it).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "logout_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti_hash: String,
    pub expires_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
