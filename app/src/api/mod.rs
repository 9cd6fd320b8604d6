//! Server functions: the queries the pages load here, the account's changes in `actions`.
//! What they return is defined once, in `latchkey-types`, shared with the core; only the
//! server-function bodies (and the `ssr` helpers at the bottom) touch the core.

mod actions;
mod admin;
mod error;

use leptos::prelude::*;

pub use actions::*;
pub use admin::*;
pub use error::{ActionError, LinkedProviders};

pub use latchkey_types::{
    ActivityEvent, ActivityKind, ActivityPage, AdminUserDetail, AdminUserPage, AdminUserSummary, Identity, Me,
    PendingLinkInfo, ProviderKind, ProviderSummary, SavedProfile, SessionInfo, TokenStatus, routes,
};

/// The person signed in in this browser, if any.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Me>, ServerFnError> {
    session_lookup()?.person().await.map_err(|e| failed(&e))
}

/// The providers people can sign in with, in configuration order.
#[server(endpoint = "sign_in_providers")]
pub async fn sign_in_providers() -> Result<Vec<ProviderSummary>, ServerFnError> {
    Ok(latchkey()?.providers())
}

/// The provider account waiting in this browser to be linked, if any.
#[server(endpoint = "pending_link")]
pub async fn pending_link() -> Result<Option<PendingLinkInfo>, ServerFnError> {
    let Some(session) = session().await? else { return Ok(None) };
    let latchkey_server::http::extract::BrowserBinding(browser) = leptos_axum::extract().await?;
    latchkey()?.accounts().pending_link(&session, browser.as_deref()).await.map_err(|e| failed(&e.into()))
}

/// The signed-in person's sessions, most recently used first; `None` when
/// nobody is signed in.
#[server(endpoint = "my_sessions")]
pub async fn my_sessions() -> Result<Option<Vec<SessionInfo>>, ServerFnError> {
    let Some(session) = session().await? else { return Ok(None) };
    latchkey()?.sessions().list(&session).await.map(Some).map_err(|e| failed(&e.into()))
}

/// A page (zero-based) of the signed-in person's security activity, newest
/// first; `None` when nobody is signed in.
#[server(endpoint = "security_activity")]
pub async fn security_activity(page: u64) -> Result<Option<ActivityPage>, ServerFnError> {
    let Some(session) = session().await? else { return Ok(None) };
    latchkey()?.activity().page(&session, page).await.map(Some).map_err(|e| failed(&e.into()))
}

/// The message to show people for a failed server function.
pub fn error_message(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        ServerFnError::Request(_) => "Could not reach the server. Check your connection and try again.".to_string(),
        _ => "Something went wrong. Please try again.".to_string(),
    }
}

#[cfg(feature = "ssr")]
pub(crate) fn latchkey() -> Result<latchkey_server::Latchkey, ServerFnError> {
    use_context::<latchkey_server::Latchkey>()
        .ok_or_else(|| ServerFnError::new("The sign-in service is not available."))
}

/// This request's session, if it has a live one (looked up once per request). A database
/// that fails answers 503, logged with the request's id.
#[cfg(feature = "ssr")]
pub(crate) async fn session() -> Result<Option<latchkey_server::session::Session>, ServerFnError> {
    session_lookup()?.session().await.map_err(|e| failed(&e))
}

/// This request's session lookup. The request's parts are read in place: a copy of them
/// (every header) for each call would cost more than the lookup itself.
#[cfg(feature = "ssr")]
fn session_lookup() -> Result<latchkey_server::http::extract::SessionLookup, ServerFnError> {
    with_context::<http::request::Parts, _>(latchkey_server::http::extract::SessionLookup::of)
        .ok_or_else(|| ServerFnError::new("no request to serve"))?
        .map_err(|e| failed(&e))
}

/// The signed-in person, as the edge loaded them before this page's render (for the person's
/// own pages, `routes::ACCOUNT_PAGES`); `None` for any other page.
#[cfg(feature = "ssr")]
pub fn preloaded_person() -> Option<Result<Option<std::sync::Arc<Me>>, ServerFnError>> {
    use latchkey_server::http::extract::SignedInPerson;
    let SignedInPerson(person) =
        with_context::<http::request::Parts, _>(|parts| parts.extensions.get::<SignedInPerson>().cloned()).flatten()?;
    Some(person.map_err(|error| failed(&error)))
}

/// The browser renders no page (islands mode): nothing is loaded there.
#[cfg(not(feature = "ssr"))]
pub fn preloaded_person() -> Option<Result<Option<std::sync::Arc<Me>>, ServerFnError>> {
    None
}

/// Logs what is latchkey's fault with the request's id (a resource may resolve on a task
/// outside the request's span).
#[cfg(feature = "ssr")]
pub(crate) fn log_error(error: &latchkey_server::AppError) {
    let parts = use_context::<http::request::Parts>();
    error.log_for_request(parts.as_ref().and_then(|parts| parts.extensions.get()));
}

/// A failed query as the page shows it, with its HTTP status.
#[cfg(feature = "ssr")]
fn failed(error: &latchkey_server::AppError) -> ServerFnError {
    log_error(error);
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status());
    }
    ServerFnError::new(error.message())
}
