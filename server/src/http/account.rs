//! Plain form posts that change an account: they work without JavaScript and answer with a
//! redirect back to the page, or with a page that says what went wrong.

use std::future::Future;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use latchkey_types::routes;

use super::auth::private;
use super::cookies;
use super::error_page::ErrorPage;
use super::extract::{BrowserBinding, Client, MaybeSession};
use crate::account::AccountError;
use crate::session::Session;
use crate::{AppError, Latchkey};

pub async fn confirm_pending_link(
    State(latchkey): State<Latchkey>,
    MaybeSession(session): MaybeSession,
    BrowserBinding(browser): BrowserBinding,
    Client(client): Client,
) -> Response {
    act(&latchkey, session, routes::ACCOUNTS, |latchkey, session| async move {
        latchkey.accounts().confirm_pending_link(&session, browser.as_deref(), &client).await?;
        Ok(())
    })
    .await
}

pub async fn dismiss_pending_link(
    State(latchkey): State<Latchkey>,
    MaybeSession(session): MaybeSession,
    BrowserBinding(browser): BrowserBinding,
) -> Response {
    act(&latchkey, session, routes::ACCOUNTS, |latchkey, session| async move {
        latchkey.accounts().dismiss_pending_link(&session, browser.as_deref()).await?;
        Ok(())
    })
    .await
}

pub async fn unlink(
    State(latchkey): State<Latchkey>,
    Path(identity_id): Path<String>,
    MaybeSession(session): MaybeSession,
    Client(client): Client,
) -> Response {
    act(&latchkey, session, routes::ACCOUNTS, |latchkey, session| async move {
        latchkey.accounts().unlink(&session, &identity_id, &client).await?;
        Ok(())
    })
    .await
}

pub async fn refresh_profile(
    State(latchkey): State<Latchkey>,
    Path(identity_id): Path<String>,
    MaybeSession(session): MaybeSession,
    Client(client): Client,
) -> Response {
    act(&latchkey, session, routes::ACCOUNTS, |latchkey, session| async move {
        latchkey.accounts().refresh_profile(&session, &identity_id, &client).await?;
        Ok(())
    })
    .await
}

pub async fn revoke_session(
    State(latchkey): State<Latchkey>,
    Path(session_id): Path<String>,
    MaybeSession(session): MaybeSession,
    Client(client): Client,
) -> Response {
    act(&latchkey, session, routes::SESSIONS, |latchkey, session| async move {
        if latchkey.sessions().revoke(&session, &session_id, &client).await? {
            Ok(())
        } else {
            Err(AccountError::NotFound.into())
        }
    })
    .await
}

pub async fn delete_account(
    State(latchkey): State<Latchkey>,
    MaybeSession(session): MaybeSession,
    Client(client): Client,
    jar: CookieJar,
) -> Response {
    let Some(session) = session else {
        return problem_page(&latchkey, None, routes::PROFILE, AppError::Unauthenticated).await;
    };
    match latchkey.accounts().delete(&session, &client).await {
        Ok(()) => {
            let jar = jar.add(cookies::expired_session_cookie(latchkey.config()));
            private((jar, Redirect::to(routes::HOME)).into_response())
        }
        Err(error) => problem_page(&latchkey, Some(&session), routes::PROFILE, error.into()).await,
    }
}

/// Runs `action` for the signed-in person, then redirects back to `page`, or shows what went
/// wrong.
async fn act<F, Fut>(latchkey: &Latchkey, session: Option<Session>, page: &'static str, action: F) -> Response
where
    F: FnOnce(Latchkey, Session) -> Fut,
    Fut: Future<Output = Result<(), AppError>>,
{
    let Some(session) = session else { return problem_page(latchkey, None, page, AppError::Unauthenticated).await };
    match action(latchkey.clone(), session.clone()).await {
        Ok(()) => private(Redirect::to(page).into_response()),
        Err(error) => problem_page(latchkey, Some(&session), page, error).await,
    }
}

/// What went wrong, in plain words, with the way forward: back to the page, or (for a stale
/// session) a fresh sign-in with any linked provider.
async fn problem_page(latchkey: &Latchkey, session: Option<&Session>, page: &str, error: AppError) -> Response {
    let (title, actions) = match (&error, session) {
        (AppError::Account(AccountError::ReauthenticationRequired), Some(session)) => {
            let identities = match latchkey.accounts().me(session).await {
                Ok(me) => me.identities,
                Err(_) => Vec::new(),
            };
            let mut seen = Vec::new();
            let actions = identities
                .into_iter()
                .filter(|identity| {
                    let new = !seen.contains(&identity.provider);
                    seen.push(identity.provider.clone());
                    new
                })
                .map(|i| (format!("Sign in again with {}", i.provider_name), routes::login(&i.provider, page)))
                .collect();
            ("Please confirm it's you", actions)
        }
        (AppError::Unauthenticated, _) => ("Please sign in", vec![("Home".to_string(), routes::HOME.to_string())]),
        _ => ("That did not work", vec![("Back".to_string(), page.to_string())]),
    };
    if let AppError::Database(e) | AppError::Account(AccountError::Database(e)) = &error {
        tracing::error!(error = %e, "database error");
    }
    let status = match error.status() {
        StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
        status => status,
    };
    ErrorPage { status, title: title.to_string(), message: error.message(), retry_href: None, actions }.into_response()
}
