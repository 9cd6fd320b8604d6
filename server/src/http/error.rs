//! Errors as the web sees them: each mapped once to an HTTP status and to words for people.
//! Sign-in failures have their own page (see `http::auth`); this is for the account actions,
//! the JSON API and the UI's server functions.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_types::DisplayNameError;

use crate::account::AccountError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("no session")]
    Unauthenticated,
    #[error("a write from another site")]
    CrossOrigin,
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::CrossOrigin | AppError::Account(AccountError::ReauthenticationRequired) => StatusCode::FORBIDDEN,
            AppError::Account(AccountError::NotFound) => StatusCode::NOT_FOUND,
            AppError::Account(AccountError::Database(_)) | AppError::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Account(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What went wrong, in words for the person who asked.
    pub fn message(&self) -> String {
        match self {
            AppError::Unauthenticated => "You need to sign in.".into(),
            AppError::CrossOrigin => "This request did not come from this site.".into(),
            AppError::Account(error) => account_message(error),
            AppError::Database(_) => UNAVAILABLE.into(),
            AppError::Internal(_) => "Something went wrong on our side. Please try again.".into(),
        }
    }
}

const UNAVAILABLE: &str =
    "latchkey cannot reach its database right now; nothing was changed. Please try again in a moment.";

fn account_message(error: &AccountError) -> String {
    match error {
        AccountError::ReauthenticationRequired => {
            "For your safety, please sign in again first (this needs a sign-in within the last 10 minutes).".into()
        }
        AccountError::NotFound => "That was not found.".into(),
        AccountError::LastIdentity => {
            "This is your only way to sign in, so it cannot be removed. Link another account first.".into()
        }
        AccountError::NotAVerifiedEmail => "Choose one of the verified emails of your linked accounts.".into(),
        AccountError::NotALinkedPicture => "Choose a picture from one of your linked accounts.".into(),
        AccountError::DisplayName(error) => display_name_message(*error),
        AccountError::LinkedElsewhere => {
            "That account was linked to another latchkey account in the meantime, so it was not linked.".into()
        }
        AccountError::NoProviderAccess { provider } => {
            format!("latchkey holds no access to {provider} for this account.")
        }
        AccountError::ReconnectNeeded { provider } => {
            format!("{provider} no longer accepts latchkey's access. Sign in with {provider} again to reconnect.")
        }
        AccountError::ProviderUnavailable { provider, reason } => {
            format!("{provider} could not be asked right now ({reason}).")
        }
        AccountError::ProviderAnswer { provider, reason } => {
            format!("{provider} did not answer as expected, so nothing was changed ({reason}).")
        }
        AccountError::Database(_) => UNAVAILABLE.into(),
    }
}

fn display_name_message(error: DisplayNameError) -> String {
    match error {
        DisplayNameError::Empty => "Display name cannot be empty.".into(),
        DisplayNameError::TooLong => {
            format!("Display name can be at most {} characters.", latchkey_types::DisplayName::MAX_CHARS)
        }
        DisplayNameError::ControlCharacter => "Display name cannot contain control characters.".into(),
    }
}

impl crate::storage::Transient for AppError {
    fn is_transient(&self) -> bool {
        match self {
            AppError::Database(e) => e.is_transient(),
            AppError::Account(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Database(e) | AppError::Account(AccountError::Database(e)) => {
                tracing::error!(error = %e, "database error")
            }
            AppError::Internal(what) => tracing::error!(what, "internal error"),
            _ => {}
        }
        (self.status(), Json(serde_json::json!({ "error": self.message() }))).into_response()
    }
}
