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
    pub provider: String,
    pub provider_name: String,
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub picture: Option<String>,
}

/// The person behind a valid session.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CurrentUser {
    pub user: UserView,
    pub identities: Vec<IdentityView>,
    /// The provider id of the identity this session was signed in with.
    pub signed_in_with: Option<String>,
}

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set, SqlErr,
};

use crate::provider::VerifiedIdentity;
use crate::storage::entities::{identity, user};

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

/// Finds the user owning `(issuer, subject)`, refreshing the identity's profile claims,
/// or creates a new user with this identity. Never matches by email.
pub async fn provision(
    db: &impl ConnectionTrait,
    provider_id: &str,
    verified: &VerifiedIdentity,
) -> Result<Provisioned, ProvisionError> {
    let now = Utc::now();
    let existing = identity::Entity::find()
        .filter(identity::Column::Issuer.eq(&verified.issuer))
        .filter(identity::Column::Subject.eq(&verified.subject))
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    if let Some((found, Some(owner))) = existing {
        let mut active: identity::ActiveModel = found.into();
        active.name = Set(verified.name.clone());
        active.email = Set(verified.email.clone());
        active.email_verified = Set(verified.email_verified);
        active.picture = Set(verified.picture.clone());
        active.last_used_at = Set(now);
        let identity = active.update(db).await?;
        return Ok(Provisioned { user: owner, identity, created_user: false });
    }

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
    let identity = identity::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(user.id.clone()),
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
    })?;
    Ok(Provisioned { user, identity, created_user: true })
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
            provider: identity.provider_id.clone(),
            provider_name,
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            name: identity.name.clone(),
            email: identity.email.clone(),
            email_verified: identity.email_verified,
            picture: identity.picture.clone(),
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
