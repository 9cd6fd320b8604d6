//! The admin pages' server functions. Whoever is not an admin gets what a missing page gets:
//! nothing (`None`, answered with 404) from the queries, `NotFound` from the actions.

use latchkey_types::{AdminUserDetail, AdminUserPage, UserId};
use leptos::prelude::*;

use super::ActionError;
#[cfg(feature = "ssr")]
use super::actions::{Outcome, act};
#[cfg(feature = "ssr")]
use latchkey_server::AppError;

/// A page (zero-based) of the accounts matching `query`; `None` unless an admin asks.
#[server(endpoint = "admin_users")]
pub async fn admin_users(query: String, page: u64) -> Result<Option<AdminUserPage>, ServerFnError> {
    let Some((latchkey, admin)) = admin().await? else { return Ok(None) };
    latchkey.admins().search(&admin, &query, page).await.map(Some).map_err(|e| super::failed(&e.into()))
}

/// One account in full; `None` unless an admin asks and the account exists.
#[server(endpoint = "admin_user")]
pub async fn admin_user(user: UserId) -> Result<Option<AdminUserDetail>, ServerFnError> {
    let Some((latchkey, admin)) = admin().await? else { return Ok(None) };
    latchkey.admins().user(&admin, user.as_str()).await.map_err(|e| super::failed(&e.into()))
}

/// Ends every session of the account.
#[server(endpoint = "admin_end_sessions")]
pub async fn admin_end_sessions(user: UserId) -> Result<(), ActionError> {
    admin_act(user, "sessions_ended", async |latchkey, admin, user, client| {
        latchkey.admins().end_sessions(admin, user, client).await
    })
    .await
}

/// Disables the account: its sessions end, it cannot sign in, its access tokens are refused.
#[server(endpoint = "admin_disable_user")]
pub async fn admin_disable_user(user: UserId) -> Result<(), ActionError> {
    admin_act(user, "disabled", async |latchkey, admin, user, client| {
        latchkey.admins().disable(admin, user, client).await
    })
    .await
}

/// Enables a disabled account again.
#[server(endpoint = "admin_enable_user")]
pub async fn admin_enable_user(user: UserId) -> Result<(), ActionError> {
    admin_act(user, "enabled", async |latchkey, admin, user, client| {
        latchkey.admins().enable(admin, user, client).await
    })
    .await
}

/// The signed-in admin, if the request has one.
#[cfg(feature = "ssr")]
async fn admin() -> Result<Option<(latchkey_server::Latchkey, latchkey_server::admin::Admin)>, ServerFnError> {
    let latchkey = super::latchkey()?;
    let Some(session) = super::session().await? else { return Ok(None) };
    let admin = latchkey.admins().authorize(&session).await.map_err(|e| super::failed(&e.into()))?;
    Ok(admin.map(|admin| (latchkey, admin)))
}

/// An admin action on `user`, answered like the account's own changes; a plain form post goes
/// back to the account's admin page.
#[cfg(feature = "ssr")]
async fn admin_act(
    user: UserId,
    done: &'static str,
    change: impl AsyncFnOnce(
        &latchkey_server::Latchkey,
        &latchkey_server::admin::Admin,
        &str,
        &latchkey_server::session::ClientInfo,
    ) -> Result<(), latchkey_server::admin::AdminError>,
) -> Result<(), ActionError> {
    let page = latchkey_types::routes::admin_user(&user);
    act(Outcome::new(page, done), async |latchkey, session, client| {
        let admin = latchkey.admins().authorize(&session).await.map_err(AppError::from)?;
        let admin = admin.ok_or(ActionError::NotFound)?;
        Ok(change(&latchkey, &admin, user.as_str(), &client).await?)
    })
    .await
}
