//! Users and their identities: provisioning by `(issuer, subject)`, never by email.

use chrono::Utc;
use latchkey_types::{DisplayName, TokenStatus};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QueryOrder, QuerySelect, RelationTrait, SelectModel, SelectTwoModel, Set,
};

use crate::provider::VerifiedIdentity;
use crate::storage::IdentityWithTokens;
use crate::storage::entities::{identity, provider_token, user};
use crate::storage::prepared::{self, Batch, SqlText};

pub use crate::storage::entities::user::Model as User;

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

impl ProvisionError {
    /// What the failure of writes creating an identity means: a unique-key violation is the
    /// key on `(issuer, subject)` (every other key is a fresh UUID or token hash), so another
    /// request created the same identity at the same moment.
    pub fn of_insert(e: DbErr) -> Self {
        if crate::storage::is_unique_violation(&e) { ProvisionError::Conflict } else { ProvisionError::Database(e) }
    }
}

/// The identity for `(issuer, subject)` and its owner, if it exists.
pub async fn find_identity(
    db: &impl ConnectionTrait,
    issuer: &str,
    subject: &str,
) -> Result<Option<(identity::Model, user::Model)>, DbErr> {
    static TEXT: SqlText = SqlText::new();
    let statement = TEXT.statement(db.get_database_backend(), vec![issuer.into(), subject.into()], || {
        identity::Entity::find()
            .filter(identity::Column::Issuer.eq(issuer))
            .filter(identity::Column::Subject.eq(subject))
            .find_also_related(user::Entity)
    });
    let found = prepared::one::<SelectTwoModel<identity::Model, user::Model>>(db, statement).await?;
    Ok(found.and_then(|(identity, owner)| owner.map(|owner| (identity, owner))))
}

/// Stores the latest profile claims the provider sent for a known identity (every returning
/// person's sign-in: its text is rendered once).
pub async fn refresh_identity(
    db: &impl ConnectionTrait,
    found: identity::Model,
    verified: &VerifiedIdentity,
) -> Result<identity::Model, DbErr> {
    use sea_orm::sea_query::Expr;
    let refreshed = identity::Model {
        name: verified.name.clone(),
        email: verified.email.clone(),
        email_verified: verified.email_verified,
        picture: verified.picture.clone(),
        last_used_at: Utc::now(),
        ..found
    };
    static TEXT: SqlText = SqlText::new();
    let values = vec![
        refreshed.name.clone().into(),
        refreshed.email.clone().into(),
        refreshed.email_verified.into(),
        refreshed.picture.clone().into(),
        refreshed.last_used_at.into(),
        refreshed.id.as_str().into(),
    ];
    let statement = TEXT.statement(db.get_database_backend(), values, || {
        identity::Entity::update_many()
            .col_expr(identity::Column::Name, Expr::value(refreshed.name.clone()))
            .col_expr(identity::Column::Email, Expr::value(refreshed.email.clone()))
            .col_expr(identity::Column::EmailVerified, Expr::value(refreshed.email_verified))
            .col_expr(identity::Column::Picture, Expr::value(refreshed.picture.clone()))
            .col_expr(identity::Column::LastUsedAt, Expr::value(refreshed.last_used_at))
            .filter(identity::Column::Id.eq(refreshed.id.as_str()))
    });
    if db.execute(statement).await?.rows_affected() == 0 {
        return Err(DbErr::RecordNotUpdated);
    }
    Ok(refreshed)
}

/// Creates the identity `(issuer, subject)` for `user_id`. The unique key on
/// `(issuer, subject)` turns a concurrent creation into [`ProvisionError::Conflict`].
pub async fn attach_identity(
    db: &impl ConnectionTrait,
    user_id: &str,
    provider_id: &str,
    verified: &VerifiedIdentity,
) -> Result<identity::Model, ProvisionError> {
    let mut writes = Batch::new(db);
    let identity = attach_identity_in(&mut writes, user_id, provider_id, verified)?;
    writes.run(db).await.map_err(ProvisionError::of_insert)?;
    Ok(identity)
}

/// Adds the creation of the identity `(issuer, subject)` for `user_id` to `writes`; see
/// [`ProvisionError::of_insert`] for what their failure means.
pub fn attach_identity_in(
    writes: &mut Batch,
    user_id: &str,
    provider_id: &str,
    verified: &VerifiedIdentity,
) -> Result<identity::Model, DbErr> {
    let now = Utc::now();
    let identity = identity::ActiveModel {
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
    };
    static TEXT: SqlText = SqlText::new();
    writes.insert(&TEXT, identity)
}

/// Adds the creation of a new user whose first identity is `verified` to `writes`.
pub fn create_user_with_identity(
    writes: &mut Batch,
    provider_id: &str,
    verified: &VerifiedIdentity,
) -> Result<Provisioned, DbErr> {
    let now = Utc::now();
    let user = user::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        display_name: Set(DisplayName::from_claims(verified.name.as_deref(), verified.email.as_deref()).into_string()),
        email: Set(verified.email.clone().filter(|_| verified.email_verified)),
        picture: Set(verified.picture.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        disabled_at: Set(None),
    };
    static TEXT: SqlText = SqlText::new();
    let user = writes.insert(&TEXT, user)?;
    let identity = attach_identity_in(writes, &user.id, provider_id, verified)?;
    Ok(Provisioned { user, identity, created_user: true })
}

/// What a sign-in needs to know of the accounts: the identity for `(issuer, subject)` and its
/// owner, if it exists, and the other identities whose **verified** email is `verified_email`
/// (with their owners, oldest first). Unverified emails never match anything. One query: a
/// sign-in asks in its transaction, where each query is a trip to the writer and back.
pub async fn identity_and_verified_email_matches(
    db: &impl ConnectionTrait,
    issuer: &str,
    subject: &str,
    verified_email: Option<&str>,
) -> Result<IdentityAndEmailMatches, DbErr> {
    let Some(email) = verified_email else {
        return Ok(IdentityAndEmailMatches {
            identity: find_identity(db, issuer, subject).await?,
            same_email: Vec::new(),
        });
    };
    static TEXT: SqlText = SqlText::new();
    let values = vec![issuer.into(), subject.into(), true.into(), email.to_lowercase().into()];
    let statement =
        TEXT.statement(db.get_database_backend(), values, || identity_or_verified_email_query(issuer, subject, email));
    let found = prepared::all::<SelectTwoModel<identity::Model, user::Model>>(db, statement).await?;
    let mut matches = IdentityAndEmailMatches { identity: None, same_email: Vec::new() };
    for (identity, owner) in found {
        let Some(owner) = owner else { continue };
        // Split by the key, compared as the database compares it (byte for byte).
        if identity.issuer == issuer && identity.subject == subject {
            matches.identity = Some((identity, owner));
        } else {
            matches.same_email.push((identity, owner));
        }
    }
    Ok(matches)
}

/// What [`identity_and_verified_email_matches`] found.
pub struct IdentityAndEmailMatches {
    pub identity: Option<(identity::Model, user::Model)>,
    pub same_email: Vec<(identity::Model, user::Model)>,
}

/// The query behind [`identity_and_verified_email_matches`] (its plan is tested: it must use
/// the key on `(issuer, subject)` and the index on `lower(email)`).
pub fn identity_or_verified_email_query(
    issuer: &str,
    subject: &str,
    email: &str,
) -> sea_orm::SelectTwo<identity::Entity, user::Entity> {
    use sea_orm::Condition;
    use sea_orm::sea_query::{Expr, Func};
    identity::Entity::find()
        .filter(
            Condition::any().add(identity::Column::Issuer.eq(issuer).and(identity::Column::Subject.eq(subject))).add(
                identity::Column::EmailVerified.eq(true).and(
                    Expr::expr(Func::lower(Expr::col((identity::Entity, identity::Column::Email))))
                        .eq(email.to_lowercase()),
                ),
            ),
        )
        .order_by_asc(identity::Column::CreatedAt)
        .find_also_related(user::Entity)
}

pub async fn rename(db: &impl ConnectionTrait, user: user::Model, name: DisplayName) -> Result<user::Model, DbErr> {
    let mut active: user::ActiveModel = user.into();
    active.display_name = Set(name.into_string());
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

/// Removes an identity, its provider tokens and every session signed in with it (or renewed
/// by linking it) but `unlinking_session`, the one removing it, which stays signed in.
pub async fn unlink(
    db: &impl ConnectionTrait,
    identity: &identity::Model,
    unlinking_session: &str,
) -> Result<(), DbErr> {
    use crate::storage::entities::{provider_token, session};
    use sea_orm::sea_query::Expr;
    // Every other session signed in with it ends now: removing an intruder's identity must
    // shut the intruder out at once, not when their session would expire.
    session::Entity::delete_many()
        .filter(session::Column::IdentityId.eq(identity.id.clone()))
        .filter(session::Column::Id.ne(unlinking_session))
        .exec(db)
        .await?;
    session::Entity::update_many()
        .col_expr(session::Column::IdentityId, Expr::value(Option::<String>::None))
        .filter(session::Column::Id.eq(unlinking_session))
        .filter(session::Column::IdentityId.eq(identity.id.clone()))
        .exec(db)
        .await?;
    provider_token::Entity::delete_by_id(identity.id.clone()).exec(db).await?;
    identity::Entity::delete_by_id(identity.id.clone()).exec(db).await?;
    Ok(())
}

/// Deletes a user; identities and sessions go with it (foreign keys cascade), activity rows are
/// kept, anonymised.
pub async fn delete_user(db: &impl ConnectionTrait, user_id: &str) -> Result<(), DbErr> {
    use crate::storage::entities::{activity_event, session};
    use sea_orm::sea_query::Expr;
    // The log keeps what happened and when, with nothing left that names the person: no
    // owner, no details (emails, names), no address or browser. Explicit rather than
    // relying on every backend enforcing ON DELETE actions.
    let none = || Expr::value(Option::<String>::None);
    activity_event::Entity::update_many()
        .col_expr(activity_event::Column::UserId, none())
        .col_expr(activity_event::Column::Detail, none())
        .col_expr(activity_event::Column::Ip, none())
        .col_expr(activity_event::Column::UserAgent, none())
        .filter(activity_event::Column::UserId.eq(user_id))
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

/// A user's identities, oldest first, each with the state of the tokens held for it (not the
/// sealed tokens themselves).
pub async fn identities_with_tokens(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<IdentityWithTokens>, DbErr> {
    static TEXT: SqlText = SqlText::new();
    let statement = TEXT.statement(db.get_database_backend(), vec![user_id.into()], || {
        with_token_state(
            identity::Entity::find()
                .filter(identity::Column::UserId.eq(user_id))
                .order_by_asc(identity::Column::CreatedAt),
        )
    });
    let rows = prepared::all::<SelectModel<IdentityWithTokenState>>(db, statement).await?;
    Ok(rows.into_iter().map(|row| (row.identity, row.token_status, row.token_expires_at, row.token_scopes)).collect())
}

/// `select` (of identities) with the state of the tokens held for each identity, as
/// `token_status`, `token_expires_at` and `token_scopes` (`NULL` where none are held).
pub fn with_token_state<S: QuerySelect>(select: S) -> S {
    select
        .join(JoinType::LeftJoin, identity::Relation::Tokens.def())
        .column_as(provider_token::Column::Status, "token_status")
        .column_as(provider_token::Column::ExpiresAt, "token_expires_at")
        .column_as(provider_token::Column::Scopes, "token_scopes")
}

/// An identity and what the pages show of the tokens held for it.
#[derive(FromQueryResult)]
struct IdentityWithTokenState {
    #[sea_orm(nested)]
    identity: identity::Model,
    token_status: Option<TokenStatus>,
    token_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    token_scopes: Option<String>,
}

/// A user's identities, oldest first.
pub async fn identities_of(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<identity::Model>, DbErr> {
    static TEXT: SqlText = SqlText::new();
    let statement = TEXT.statement(db.get_database_backend(), vec![user_id.into()], || {
        identity::Entity::find().filter(identity::Column::UserId.eq(user_id)).order_by_asc(identity::Column::CreatedAt)
    });
    prepared::all::<SelectModel<identity::Model>>(db, statement).await
}
