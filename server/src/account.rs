//! Users and their identities: provisioning by `(issuer, subject)`, never by email.

/// What the UI may know about the signed-in person.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub picture: Option<String>,
}

/// One identity (a provider account) linked to the user.
#[derive(Clone, Debug, serde::Serialize)]
pub struct IdentityView {
    pub id: String,
    pub provider: String,
    pub provider_name: String,
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub picture: Option<String>,
    pub linked_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: chrono::DateTime<chrono::Utc>,
    /// The provider's tokens latchkey holds: `None` (none), `ok`, `expired` (refreshed on next
    /// use) or `reconnect_needed` (the provider refused a refresh).
    pub token_status: Option<String>,
    /// Scopes the provider granted.
    pub token_scopes: Vec<String>,
}

/// The person behind a valid session.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CurrentUser {
    pub user: UserView,
    pub identities: Vec<IdentityView>,
    /// The provider id of the identity this session was signed in with.
    pub signed_in_with: Option<String>,
    /// The id of that identity (a person may link two accounts of one provider).
    pub signed_in_with_identity: Option<String>,
    /// When this session authenticated; unlinking and deleting need it to be recent.
    pub signed_in_at: chrono::DateTime<chrono::Utc>,
    /// Whether `signed_in_at` is recent enough for sensitive changes.
    pub recently_signed_in: bool,
}

/// One of the person's sessions (signed-in browsers).
#[derive(Clone, Debug, serde::Serialize)]
pub struct SessionView {
    pub id: String,
    pub current: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub provider: Option<String>,
}

/// One entry of the security activity log.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ActivityView {
    pub kind: String,
    pub provider: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A page of the activity log.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ActivityPage {
    pub events: Vec<ActivityView>,
    /// Zero-based.
    pub page: u64,
    pub pages: u64,
}

/// A new identity waiting, in this browser, to be linked to the signed-in account.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PendingLinkView {
    pub provider: String,
    pub provider_name: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set, SqlErr,
};

use crate::provider::VerifiedIdentity;
use crate::storage::entities::{identity, user};

pub use crate::storage::entities::identity::Model as Identity;
pub use crate::storage::entities::user::Model as User;

/// Longest display name we keep, in characters.
pub const MAX_DISPLAY_NAME: usize = 100;

/// The outcome of provisioning: the user and identity the sign-in resolved to.
pub struct Provisioned {
    pub user: user::Model,
    pub identity: identity::Model,
    pub created_user: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// Another request created the same identity at the same moment; retrying finds it.
    #[error("the identity was created concurrently")]
    Conflict,
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// The identity for `(issuer, subject)` and its owner, if it exists.
pub async fn find_identity(
    db: &impl ConnectionTrait,
    issuer: &str,
    subject: &str,
) -> Result<Option<(identity::Model, user::Model)>, DbErr> {
    let found = identity::Entity::find()
        .filter(identity::Column::Issuer.eq(issuer))
        .filter(identity::Column::Subject.eq(subject))
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(identity, owner)| owner.map(|owner| (identity, owner))))
}

/// Stores the latest profile claims the provider sent for a known identity.
pub async fn refresh_identity(
    db: &impl ConnectionTrait,
    found: identity::Model,
    verified: &VerifiedIdentity,
) -> Result<identity::Model, DbErr> {
    let mut active: identity::ActiveModel = found.into();
    active.name = Set(verified.name.clone());
    active.email = Set(verified.email.clone());
    active.email_verified = Set(verified.email_verified);
    active.picture = Set(verified.picture.clone());
    active.last_used_at = Set(Utc::now());
    active.update(db).await
}

/// Creates the identity `(issuer, subject)` for `user_id`. The unique key on
/// `(issuer, subject)` turns a concurrent creation into [`ProvisionError::Conflict`].
pub async fn attach_identity(
    db: &impl ConnectionTrait,
    user_id: &str,
    provider_id: &str,
    verified: &VerifiedIdentity,
) -> Result<identity::Model, ProvisionError> {
    let now = Utc::now();
    identity::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(user_id.to_string()),
        provider_id: Set(provider_id.to_string()),
        issuer: Set(verified.issuer.clone()),
        subject: Set(verified.subject.clone()),
        name: Set(verified.name.clone()),
        email: Set(verified.email.clone()),
        email_verified: Set(verified.email_verified),
        picture: Set(verified.picture.clone()),
        created_at: Set(now),
        last_used_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => ProvisionError::Conflict,
        _ => ProvisionError::Database(e),
    })
}

/// Creates a new user whose first identity is `verified`.
pub async fn create_user_with_identity(
    db: &impl ConnectionTrait,
    provider_id: &str,
    verified: &VerifiedIdentity,
) -> Result<Provisioned, ProvisionError> {
    let now = Utc::now();
    let user = user::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        display_name: Set(initial_display_name(verified)),
        email: Set(verified.email.clone().filter(|_| verified.email_verified)),
        picture: Set(verified.picture.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let identity = attach_identity(db, &user.id, provider_id, verified).await?;
    Ok(Provisioned { user, identity, created_user: true })
}

/// The user who owns an identity with this **verified** email, if any. Unverified emails
/// never match anything.
pub async fn user_with_verified_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<user::Model>, DbErr> {
    use sea_orm::sea_query::{Expr, Func};
    let found = identity::Entity::find()
        .filter(identity::Column::EmailVerified.eq(true))
        .filter(
            Expr::expr(Func::lower(Expr::col((identity::Entity, identity::Column::Email)))).eq(email.to_lowercase()),
        )
        .order_by_asc(identity::Column::CreatedAt)
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(_, owner)| owner))
}

fn initial_display_name(verified: &VerifiedIdentity) -> String {
    let from_claims = verified
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .or_else(|| verified.email.as_deref().and_then(|e| e.split('@').next()).filter(|n| !n.is_empty()));
    from_claims.map(|n| n.chars().take(MAX_DISPLAY_NAME).collect()).unwrap_or_else(|| "New user".to_string())
}

/// Checks a display name a person typed; returns it trimmed.
pub fn validate_display_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Display name cannot be empty.".into());
    }
    if name.chars().count() > MAX_DISPLAY_NAME {
        return Err(format!("Display name can be at most {MAX_DISPLAY_NAME} characters."));
    }
    if name.chars().any(char::is_control) {
        return Err("Display name cannot contain control characters.".into());
    }
    Ok(name.to_string())
}

pub async fn rename(db: &impl ConnectionTrait, user: user::Model, name: String) -> Result<user::Model, DbErr> {
    let mut active: user::ActiveModel = user.into();
    active.display_name = Set(name);
    active.updated_at = Set(Utc::now());
    active.update(db).await
}

pub async fn set_email_and_picture(
    db: &impl ConnectionTrait,
    user: user::Model,
    email: Option<String>,
    picture: Option<String>,
) -> Result<user::Model, DbErr> {
    let mut active: user::ActiveModel = user.into();
    active.email = Set(email);
    active.picture = Set(picture);
    active.updated_at = Set(Utc::now());
    active.update(db).await
}

/// Removes an identity. Its sessions stay: they belong to the user, who still has others.
pub async fn unlink(db: &impl ConnectionTrait, identity: &identity::Model) -> Result<(), DbErr> {
    use crate::storage::entities::provider_token;
    provider_token::Entity::delete_by_id(identity.id.clone()).exec(db).await?;
    identity::Entity::delete_by_id(identity.id.clone()).exec(db).await?;
    Ok(())
}

/// Deletes a user; identities and sessions go with it (foreign keys cascade), audit rows are
/// kept with their user set to NULL.
pub async fn delete_user(db: &impl ConnectionTrait, user_id: &str) -> Result<(), DbErr> {
    use crate::storage::entities::{audit_event, session};
    use sea_orm::sea_query::Expr;
    // Explicit rather than relying on every backend enforcing ON DELETE actions.
    audit_event::Entity::update_many()
        .col_expr(audit_event::Column::UserId, Expr::value(Option::<String>::None))
        .filter(audit_event::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    session::Entity::delete_many().filter(session::Column::UserId.eq(user_id)).exec(db).await?;
    let identity_ids: Vec<String> = identities_of(db, user_id).await?.into_iter().map(|i| i.id).collect();
    crate::storage::entities::provider_token::Entity::delete_many()
        .filter(crate::storage::entities::provider_token::Column::IdentityId.is_in(identity_ids))
        .exec(db)
        .await?;
    identity::Entity::delete_many().filter(identity::Column::UserId.eq(user_id)).exec(db).await?;
    user::Entity::delete_by_id(user_id.to_string()).exec(db).await?;
    Ok(())
}

/// Stores name and picture read again from the provider.
pub async fn set_identity_profile(
    db: &impl ConnectionTrait,
    identity: identity::Model,
    name: Option<String>,
    picture: Option<String>,
) -> Result<identity::Model, DbErr> {
    let mut active: identity::ActiveModel = identity.into();
    active.name = Set(name);
    active.picture = Set(picture);
    active.update(db).await
}

/// A user's identities, oldest first.
pub async fn identities_of(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<identity::Model>, DbErr> {
    identity::Entity::find()
        .filter(identity::Column::UserId.eq(user_id))
        .order_by_asc(identity::Column::CreatedAt)
        .all(db)
        .await
}

impl From<&user::Model> for UserView {
    fn from(user: &user::Model) -> Self {
        UserView {
            id: user.id.clone(),
            name: user.display_name.clone(),
            email: user.email.clone(),
            picture: user.picture.clone(),
        }
    }
}

impl IdentityView {
    pub fn new(identity: &identity::Model, provider_name: String) -> Self {
        IdentityView {
            id: identity.id.clone(),
            provider: identity.provider_id.clone(),
            provider_name,
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            name: identity.name.clone(),
            email: identity.email.clone(),
            email_verified: identity.email_verified,
            picture: identity.picture.clone(),
            linked_at: identity.created_at,
            last_used_at: identity.last_used_at,
            token_status: None,
            token_scopes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(validate_display_name("  Ada  ").as_deref(), Ok("Ada"));
        assert!(validate_display_name("   ").is_err());
        assert!(validate_display_name(&"x".repeat(MAX_DISPLAY_NAME + 1)).is_err());
        assert!(validate_display_name("a\u{0007}b").is_err());
    }
}
