use sea_orm::entity::prelude::*;

/// A signed-in browser. Only the SHA-256 of the cookie's token is stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// Public handle (for listing and revoking), unrelated to the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub user_id: String,
    /// The identity used to sign in.
    pub identity_id: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub last_seen_at: ChronoDateTimeUtc,
    /// Absolute expiry; idle expiry is `last_seen_at` + the idle timeout.
    pub expires_at: ChronoDateTimeUtc,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The provider's session id (`sid`) of the sign-in, when its ID token had one.
    pub provider_sid: Option<String>,
    /// The sign-in's ID token, sealed (see `tokens::TokenCipher`; the row is the session id):
    /// sent back to the provider as `id_token_hint` when the person signs out there too.
    pub id_token: Option<String>,
    /// The key that sealed `id_token`.
    pub id_token_key_id: Option<String>,
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
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
