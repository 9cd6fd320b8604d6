use latchkey_types::LoginPurpose;
use sea_orm::entity::prelude::*;

/// A sign-in that went to a provider and has not come back yet.
/// Keyed by the hash of `state`; bound to one browser; used once; short-lived.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pending_logins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    /// Hash of the browser-binding cookie that started this sign-in.
    pub browser_hash: String,
    /// `Link`: attach the identity to `user_id`.
    pub purpose: LoginPurpose,
    pub user_id: Option<String>,
    pub provider_id: String,
    pub pkce_verifier: super::SecretText,
    pub nonce: super::SecretText,
    pub return_to: String,
    pub created_at: ChronoDateTimeUtc,
    pub expires_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
