//! The server functions that change the account. Each works two ways:
//! - from the hydrated page (`ActionForm`), answering with its value or an [`ActionError`]
//!   (and the HTTP status that goes with it);
//! - from a plain HTML form without JavaScript, answering with a `303` back to its page,
//!   the outcome in the query (`?done=<form>`, or `?form=<form>&problem=…`, see
//!   [`ActionError::to_query`]).

#[cfg(feature = "ssr")]
use latchkey_types::routes;
use latchkey_types::{IdentityId, SavedProfile, SessionId};
use leptos::prelude::*;

use super::ActionError;
#[cfg(feature = "ssr")]
use latchkey_server::AppError;

/// Changes the display name; returns it as stored.
#[server(endpoint = "update_display_name")]
pub async fn update_display_name(display_name: String) -> Result<String, ActionError> {
    act(Outcome::new(routes::PROFILE, "name"), async |latchkey, session, _| {
        Ok(latchkey.accounts().rename(&session, &display_name).await?.into_string())
    })
    .await
}

/// Chooses the primary email (one of the verified emails of the linked identities) and the
/// picture (the picture of the identity with this id); an empty string means none (no
/// primary email; initials instead of a picture).
#[server(endpoint = "update_profile")]
pub async fn update_profile(primary_email: String, picture_identity: String) -> Result<SavedProfile, ActionError> {
    act(Outcome::new(routes::PROFILE, "profile"), async |latchkey, session, _| {
        let primary_email = Some(primary_email.trim()).filter(|e| !e.is_empty());
        let picture_identity = Some(picture_identity.trim()).filter(|p| !p.is_empty());
        Ok(latchkey.accounts().update_profile(&session, primary_email, picture_identity).await?)
    })
    .await
}

/// Removes one of the person's identities (not the last; after a recent sign-in).
#[server(endpoint = "unlink_identity")]
pub async fn unlink_identity(identity: IdentityId) -> Result<(), ActionError> {
    act(Outcome::new(routes::ACCOUNTS, "unlinked"), async |latchkey, session, client| {
        Ok(latchkey.accounts().unlink(&session, identity.as_str(), &client).await?)
    })
    .await
}

/// Reads name and picture of an identity again from its provider.
#[server(endpoint = "refresh_identity_profile")]
pub async fn refresh_identity_profile(identity: IdentityId) -> Result<(), ActionError> {
    act(Outcome::new(routes::ACCOUNTS, "refreshed"), async |latchkey, session, client| {
        Ok(latchkey.accounts().refresh_profile(&session, identity.as_str(), &client).await?)
    })
    .await
}

/// Links the provider account waiting in this browser.
#[server(endpoint = "confirm_pending_link")]
pub async fn confirm_pending_link() -> Result<(), ActionError> {
    act(Outcome::new(routes::ACCOUNTS, "linked"), async |latchkey, session, client| {
        let browser = browser_binding().await?;
        Ok(latchkey.accounts().confirm_pending_link(&session, browser.as_deref(), &client).await?)
    })
    .await
}

/// Forgets the provider account waiting in this browser.
#[server(endpoint = "dismiss_pending_link")]
pub async fn dismiss_pending_link() -> Result<(), ActionError> {
    act(Outcome::new(routes::ACCOUNTS, "dismissed"), async |latchkey, session, _| {
        let browser = browser_binding().await?;
        latchkey.accounts().dismiss_pending_link(&session, browser.as_deref()).await.map_err(AppError::from)?;
        Ok(())
    })
    .await
}

/// Ends one of the person's sessions (any browser).
#[server(endpoint = "revoke_session")]
pub async fn revoke_session(session_id: SessionId) -> Result<(), ActionError> {
    act(Outcome::new(routes::SESSIONS, "ended"), async |latchkey, session, client| {
        match latchkey.sessions().revoke(&session, session_id.as_str(), &client).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ActionError::NotFound),
            Err(error) => Err(AppError::from(error).into()),
        }
    })
    .await
}

/// Ends every session of the person but this browser's ("Sign out everywhere else").
#[server(endpoint = "end_other_sessions")]
pub async fn end_other_sessions() -> Result<(), ActionError> {
    act(Outcome::new(routes::SESSIONS, "ended_others"), async |latchkey, session, client| {
        latchkey
            .sessions()
            .end_others(&session, &client)
            .await
            .map(|_| ())
            .map_err(|error| AppError::from(error).into())
    })
    .await
}

/// Deletes the account (after a recent sign-in); the browser lands signed out on the home
/// page.
#[server(endpoint = "delete_account")]
pub async fn delete_account() -> Result<(), ActionError> {
    let outcome = Outcome { page: routes::PROFILE.to_string(), done: "deleted", success_page: Some(routes::HOME) };
    act(outcome, async |latchkey, session, _| {
        latchkey.accounts().delete(&session).await?;
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            let cookie = latchkey_server::http::cookies::expired_session_cookie(latchkey.config());
            if let Ok(value) = http::HeaderValue::from_str(&cookie.to_string()) {
                response.append_header(http::header::SET_COOKIE, value);
            }
        }
        Ok(())
    })
    .await
}

/// Where an action's page is, and the `?done=` code its success leaves there.
#[cfg(feature = "ssr")]
pub(super) struct Outcome {
    page: String,
    done: &'static str,
    /// Where a success leads instead of back to `page`.
    success_page: Option<&'static str>,
}

#[cfg(feature = "ssr")]
impl Outcome {
    pub(super) fn new(page: impl Into<String>, done: &'static str) -> Self {
        Outcome { page: page.into(), done, success_page: None }
    }
}

/// Runs an account change for this request's session, then answers as the request wants:
/// a status with the value or error, or (a plain form post) a `303` back to the page.
#[cfg(feature = "ssr")]
pub(super) async fn act<T>(
    outcome: Outcome,
    change: impl AsyncFnOnce(
        latchkey_server::Latchkey,
        latchkey_server::session::Session,
        latchkey_server::session::ClientInfo,
    ) -> Result<T, ActionError>,
) -> Result<T, ActionError> {
    let result = async {
        let latchkey = super::latchkey().map_err(|_| ActionError::Unavailable)?;
        let session = super::session().await.map_err(|_| ActionError::Unavailable)?.ok_or(ActionError::SignInNeeded)?;
        let latchkey_server::http::extract::Client(client) =
            leptos_axum::extract().await.map_err(ActionError::Transport)?;
        change(latchkey, session, client).await
    }
    .await;
    let response = use_context::<leptos_axum::ResponseOptions>();
    if is_plain_form_post() {
        let location = match &result {
            Ok(_) => format!("{}?done={}", outcome.success_page.unwrap_or(&outcome.page), outcome.done),
            Err(error) => format!("{}?form={}&{}", outcome.page, outcome.done, error.to_query()),
        };
        leptos_axum::redirect(&location);
        if let Some(response) = &response {
            response.set_status(http::StatusCode::SEE_OTHER);
        }
    } else if let (Err(error), Some(response)) = (&result, &response) {
        response.set_status(error.status());
    }
    result
}

/// The browser-binding cookie's token (pending links belong to one browser).
#[cfg(feature = "ssr")]
async fn browser_binding() -> Result<Option<String>, ActionError> {
    let latchkey_server::http::extract::BrowserBinding(browser) =
        leptos_axum::extract().await.map_err(ActionError::Transport)?;
    Ok(browser)
}

/// Whether this request is an HTML form submitted without JavaScript (the
/// browser asks for HTML; the server-function client does not).
#[cfg(feature = "ssr")]
fn is_plain_form_post() -> bool {
    use_context::<http::request::Parts>()
        .and_then(|parts| {
            parts.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).map(|v| v.contains("text/html"))
        })
        .unwrap_or(false)
}
