use latchkey_types::TokenStatus;
use sea_orm::entity::prelude::*;

/// A provider's tokens for one identity. The token columns hold sealed values (base64 of
/// nonce ‖ ciphertext ‖ tag) opened only with the key named by `key_id`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub identity_id: String,
    pub key_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<ChronoDateTimeUtc>,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// `Ok`, or `ReconnectNeeded` once the provider refused a refresh (never `Expired`).
    pub status: TokenStatus,
    /// Set while one server instance refreshes (so two never spend one rotating refresh token).
    pub refresh_lock_until: Option<ChronoDateTimeUtc>,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::identity::Entity",
        from = "Column::IdentityId",
        to = "super::identity::Column::Id",
        on_delete = "Cascade"
    )]
    Identity,
}

impl Related<super::identity::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Identity.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
