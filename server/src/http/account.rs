//! Plain form posts that change an account: they work without JavaScript and answer with a
//! redirect back to the page, or with a page that says what went wrong.

use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::auth::{client_info, private};
use super::cookies;
use super::error_page::ErrorPage;
use latchkey_types::routes;

use crate::{AppError, Latchkey};

pub async fn confirm_pending_link(
    State(latchkey): State<Latchkey>,
    headers: HeaderMap,
    extensions: Extensions,
    jar: CookieJar,
) -> Response {
    let result = latchkey.confirm_pending_link(&jar, &client_info(&headers, &extensions)).await;
    back_to(&latchkey, &jar, routes::ACCOUNTS, result).await
}

pub async fn dismiss_pending_link(State(latchkey): State<Latchkey>, jar: CookieJar) -> Response {
    let result = latchkey.dismiss_pending_link(&jar).await;
    back_to(&latchkey, &jar, routes::ACCOUNTS, result).await
}

pub async fn unlink(
    State(latchkey): State<Latchkey>,
    Path(identity_id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    jar: CookieJar,
) -> Response {
    let result = latchkey.unlink_identity(&jar, &identity_id, &client_info(&headers, &extensions)).await;
    back_to(&latchkey, &jar, routes::ACCOUNTS, result).await
}

pub async fn refresh_profile(
    State(latchkey): State<Latchkey>,
    Path(identity_id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    jar: CookieJar,
) -> Response {
    let result = latchkey.refresh_profile(&jar, &identity_id, &client_info(&headers, &extensions)).await;
    back_to(&latchkey, &jar, routes::ACCOUNTS, result).await
}

pub async fn revoke_session(
    State(latchkey): State<Latchkey>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    jar: CookieJar,
) -> Response {
    let result = latchkey.revoke_session(&jar, &session_id, &client_info(&headers, &extensions)).await;
    back_to(&latchkey, &jar, routes::SESSIONS, result).await
}

pub async fn delete_account(
    State(latchkey): State<Latchkey>,
    headers: HeaderMap,
    extensions: Extensions,
    jar: CookieJar,
) -> Response {
    match latchkey.delete_account(&jar, &client_info(&headers, &extensions)).await {
        Ok(()) => {
            let jar = jar.add(cookies::expired_session_cookie(latchkey.config()));
            private((jar, Redirect::to(routes::HOME)).into_response())
        }
        Err(error) => problem_page(&latchkey, &jar, routes::PROFILE, error).await.into_response(),
    }
}

async fn back_to(latchkey: &Latchkey, jar: &CookieJar, page: &'static str, result: Result<(), AppError>) -> Response {
    match result {
        Ok(()) => private(Redirect::to(page).into_response()),
        Err(error) => problem_page(latchkey, jar, page, error).await.into_response(),
    }
}

/// What went wrong, in plain words, with the way forward: back to the page, or (for a stale
/// session) a fresh sign-in with any linked provider.
async fn problem_page(latchkey: &Latchkey, jar: &CookieJar, page: &str, error: AppError) -> ErrorPage {
    if let AppError::Database(e) = &error {
        tracing::error!(error = %e, "database error");
    }
    let (title, actions) = match &error {
        AppError::Unauthenticated => ("Please sign in", vec![("Home".to_string(), routes::HOME.to_string())]),
        AppError::ReauthenticationRequired => {
            let providers = match latchkey.current_user(jar).await {
                Ok(Some(me)) => me.identities.into_iter().map(|i| (i.provider, i.provider_name)).collect(),
                _ => Vec::new(),
            };
            let mut seen = Vec::new();
            let actions = providers
                .into_iter()
                .filter(|(id, _)| {
                    let new = !seen.contains(id);
                    seen.push(id.clone());
                    new
                })
                .map(|(id, name)| (format!("Sign in again with {name}"), routes::login(&id, page)))
                .collect();
            ("Please confirm it's you", actions)
        }
        _ => ("That did not work", vec![("Back".to_string(), page.to_string())]),
    };
    ErrorPage {
        status: if error.status() == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            error.status()
        },
        title: title.to_string(),
        message: error.to_string(),
        retry_href: None,
        actions,
    }
}
