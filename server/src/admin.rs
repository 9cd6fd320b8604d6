//! Admins: who they are — a person with a provider-verified email that is listed in
//! `LATCHKEY_ADMINS` or was granted with `latchkey admin grant <email>` — and what they may do
//! to other accounts: find them, look at them, end their sessions, disable and enable them.
//! Every action lands in the target's activity log and names the admin.
//!
//! The only way to act as an admin is an [`Admin`], which [`Admins::authorize`] alone makes.

use std::collections::HashMap;

use chrono::Utc;
use latchkey_types::{ActivityKind, AdminUserDetail, AdminUserPage, AdminUserSummary, UserId};
use sea_orm::sea_query::{Expr, Func, LikeExpr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
};

use crate::account::Accounts;
use crate::activity::{self, ActivityLog};
use crate::provider::Providers;
use crate::session::{ClientInfo, Session, Sessions};
use crate::storage::entities::{admin_grant, identity, session, user};
use crate::storage::{Database, retry};

/// Accounts per page of the admin's list.
pub const USERS_PER_PAGE: u64 = 25;
/// The longest search an admin can type (longer is cut).
const MAX_QUERY_CHARS: usize = 200;

/// Why an admin action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("there is no such account")]
    NotFound,
    /// Disabling one's own account would lock the admin out (another admin can).
    #[error("an admin cannot disable their own account")]
    OwnAccount,
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// A signed-in admin: proof that [`Admins::authorize`] said yes for this request.
pub struct Admin {
    session: Session,
}

impl Admin {
    /// How the target's activity log names the admin: their name and primary email.
    fn label(&self) -> String {
        let user = &self.session.user;
        match &user.email {
            Some(email) => format!("by {} ({email})", user.display_name),
            None => format!("by {} (user {})", user.display_name, user.id),
        }
    }
}

#[derive(Clone)]
pub struct Admins {
    db: Database,
    /// `LATCHKEY_ADMINS`, lower-cased.
    configured: Vec<String>,
    providers: Providers,
    sessions: Sessions,
    accounts: Accounts,
    activity: ActivityLog,
}

impl Admins {
    pub fn new(
        db: Database,
        configured: Vec<String>,
        providers: Providers,
        sessions: Sessions,
        accounts: Accounts,
        activity: ActivityLog,
    ) -> Self {
        Admins { db, configured, providers, sessions, accounts, activity }
    }

    /// The session's person as an admin, if they are one: one of their identities has a
    /// provider-verified email that is listed or granted.
    pub async fn authorize(&self, session: &Session) -> Result<Option<Admin>, DbErr> {
        let emails: Vec<String> = identity::Entity::find()
            .select_only()
            .column(identity::Column::Email)
            .filter(identity::Column::UserId.eq(session.user_id()))
            .filter(identity::Column::EmailVerified.eq(true))
            .into_tuple::<Option<String>>()
            .all(self.db.reads())
            .await?
            .into_iter()
            .flatten()
            .map(|email| email.to_lowercase())
            .collect();
        let listed = emails.iter().any(|email| self.configured.contains(email));
        let granted = listed
            || admin_grant::Entity::find()
                .filter(admin_grant::Column::Email.is_in(emails))
                .count(self.db.reads())
                .await?
                > 0;
        Ok(granted.then(|| Admin { session: session.clone() }))
    }

    /// Makes the owner of `email` an admin (`latchkey admin grant`); `false` if it already was
    /// granted.
    pub async fn grant(&self, email: &str) -> Result<bool, DbErr> {
        let row = admin_grant::ActiveModel { email: Set(email.trim().to_lowercase()), granted_at: Set(Utc::now()) };
        let inserted = retry(|| {
            admin_grant::Entity::insert(row.clone())
                .on_conflict(OnConflict::column(admin_grant::Column::Email).do_nothing().to_owned())
                .exec_without_returning(self.db.writes())
        })
        .await?;
        Ok(inserted > 0)
    }

    /// Takes back a grant (`latchkey admin revoke`); `false` if there was none. An email in
    /// `LATCHKEY_ADMINS` stays an admin's: [`Admins::is_configured`] says so.
    pub async fn revoke(&self, email: &str) -> Result<bool, DbErr> {
        let email = email.trim().to_lowercase();
        let deleted =
            retry(|| admin_grant::Entity::delete_by_id(email.clone()).exec(self.db.writes())).await?.rows_affected;
        Ok(deleted > 0)
    }

    /// Whether `email` is listed in `LATCHKEY_ADMINS` (and so cannot be revoked here).
    pub fn is_configured(&self, email: &str) -> bool {
        self.configured.contains(&email.trim().to_lowercase())
    }

    /// A page (zero-based) of the accounts whose name or email contains `query` (ignoring
    /// case), or one of whose identities has that email or exactly that provider subject;
    /// every account for an empty query. Oldest first.
    pub async fn search(&self, _admin: &Admin, query: &str, page: u64) -> Result<AdminUserPage, DbErr> {
        let query: String = query.trim().chars().take(MAX_QUERY_CHARS).collect();
        let mut matching = user::Entity::find();
        if !query.is_empty() {
            let pattern = format!("%{}%", escape_like(&query.to_lowercase()));
            let contains =
                |column: Expr| Expr::expr(Func::lower(column)).like(LikeExpr::new(pattern.clone()).escape('\\'));
            let by_identity = identity::Entity::find()
                .select_only()
                .column(identity::Column::UserId)
                .filter(
                    Condition::any()
                        .add(contains(Expr::col((identity::Entity, identity::Column::Email))))
                        .add(identity::Column::Subject.eq(query.as_str())),
                )
                .into_query();
            matching = matching.filter(
                Condition::any()
                    .add(contains(Expr::col((user::Entity, user::Column::DisplayName))))
                    .add(contains(Expr::col((user::Entity, user::Column::Email))))
                    .add(user::Column::Id.in_subquery(by_identity)),
            );
        }
        let paginator = matching
            .order_by_asc(user::Column::CreatedAt)
            .order_by_asc(user::Column::Id)
            .paginate(self.db.reads(), USERS_PER_PAGE);
        let pages = paginator.num_pages().await?;
        let users = paginator.fetch_page(page).await?;
        let users = self.summaries(users).await?;
        Ok(AdminUserPage { users, page, pages })
    }

    /// One account in full: profile, identities, live sessions and the first page of its log.
    pub async fn user(&self, _admin: &Admin, user_id: &str) -> Result<Option<AdminUserDetail>, DbErr> {
        let Some(found) = self.accounts.user(user_id).await? else { return Ok(None) };
        let user = self.summaries(vec![found]).await?.remove(0);
        Ok(Some(AdminUserDetail {
            user,
            identities: self.accounts.identities_shown(user_id).await?,
            sessions: self.sessions.list_of(user_id, None).await?,
            activity: self.activity.page_of(user_id, 0).await?,
        }))
    }

    /// Ends every session of the account.
    pub async fn end_sessions(&self, admin: &Admin, user_id: &str, client: &ClientInfo) -> Result<(), AdminError> {
        self.change(admin, user_id, client, ActivityKind::SessionsEndedByAdmin, None).await
    }

    /// Disables the account: every session ends, sign-in is refused, its access tokens are
    /// refused. Never the admin's own.
    pub async fn disable(&self, admin: &Admin, user_id: &str, client: &ClientInfo) -> Result<(), AdminError> {
        if admin.session.user_id() == user_id {
            return Err(AdminError::OwnAccount);
        }
        self.change(admin, user_id, client, ActivityKind::AccountDisabled, Some(true)).await
    }

    /// Enables a disabled account again.
    pub async fn enable(&self, admin: &Admin, user_id: &str, client: &ClientInfo) -> Result<(), AdminError> {
        self.change(admin, user_id, client, ActivityKind::AccountEnabled, Some(false)).await
    }

    /// One admin action in one transaction: the account's state (`disable`: set or cleared),
    /// its sessions ended (unless enabling), and the event in its log naming the admin.
    async fn change(
        &self,
        admin: &Admin,
        user_id: &str,
        client: &ClientInfo,
        kind: ActivityKind,
        disable: Option<bool>,
    ) -> Result<(), AdminError> {
        let label = admin.label();
        let changed = retry(|| async {
            let txn = self.db.begin().await?;
            let (column, value) = match disable {
                Some(true) => (user::Column::DisabledAt, Expr::value(Some(Utc::now()))),
                Some(false) => (user::Column::DisabledAt, Expr::value(Option::<chrono::DateTime<Utc>>::None)),
                // Nothing to change but the row must exist: touch `updated_at`.
                None => (user::Column::UpdatedAt, Expr::value(Utc::now())),
            };
            let update = user::Entity::update_many().col_expr(column, value).filter(user::Column::Id.eq(user_id));
            if update.exec(&txn).await?.rows_affected == 0 {
                return Ok(false);
            }
            if disable != Some(false) {
                session::Entity::delete_many().filter(session::Column::UserId.eq(user_id)).exec(&txn).await?;
            }
            activity::record(&txn, activity::Event::by(user_id, kind).detail(label.clone()).from(client)).await?;
            txn.commit().await?;
            Ok::<_, DbErr>(true)
        })
        .await?;
        changed.then_some(()).ok_or(AdminError::NotFound)
    }

    /// The list's view of some accounts: each with its identities' providers.
    async fn summaries(&self, users: Vec<user::Model>) -> Result<Vec<AdminUserSummary>, DbErr> {
        let ids: Vec<String> = users.iter().map(|user| user.id.clone()).collect();
        let mut providers: HashMap<String, Vec<String>> = HashMap::new();
        let identities = identity::Entity::find()
            .filter(identity::Column::UserId.is_in(ids))
            .order_by_asc(identity::Column::CreatedAt)
            .all(self.db.reads())
            .await?;
        for identity in identities {
            providers.entry(identity.user_id).or_default().push(self.providers.name_of(&identity.provider_id));
        }
        Ok(users
            .into_iter()
            .map(|user| AdminUserSummary {
                providers: providers.remove(&user.id).unwrap_or_default(),
                id: UserId::new(user.id),
                name: user.display_name,
                email: user.email,
                created_at: user.created_at,
                disabled_at: user.disabled_at,
            })
            .collect())
    }
}

/// `LIKE` wildcards in a search, taken literally (with `\` as the escape character).
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_search_takes_like_wildcards_literally() {
        assert_eq!(super::escape_like(r"100%_a\b"), r"100\%\_a\\b");
    }
}
