//! Errors of the protocol edge, each mapped once to an HTTP status and words for people.
//! Sign-in failures have their own page (see `http::auth`); the account's refusals are worded
//! by the UI (its server functions' `ActionError`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("no session")]
    Unauthenticated,
    #[error("a write from another site")]
    CrossOrigin,
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::CrossOrigin => StatusCode::FORBIDDEN,
            AppError::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What went wrong, in words for the person who asked.
    pub fn message(&self) -> String {
        match self {
            AppError::Unauthenticated => "You need to sign in.".into(),
            AppError::CrossOrigin => "This request did not come from this site.".into(),
            AppError::Database(_) => UNAVAILABLE.into(),
            AppError::Internal(_) => "Something went wrong on our side. Please try again.".into(),
        }
    }
}

const UNAVAILABLE: &str =
    "latchkey cannot reach its database right now; nothing was changed. Please try again in a moment.";

impl crate::storage::Transient for AppError {
    fn is_transient(&self) -> bool {
        matches!(self, AppError::Database(e) if e.is_transient())
    }
}

impl AppError {
    /// Logs what is latchkey's fault (the database, a bug), once, where it is answered: inside
    /// the request's span, so the line carries the request id. Refusals are not logged.
    pub fn log(&self) {
        match self {
            AppError::Database(e) => tracing::error!(error = %e, "database error"),
            AppError::Internal(what) => tracing::error!(what, "internal error"),
            _ => {}
        }
    }

    /// [`AppError::log`] for code that may run outside the request's span (the page renderer
    /// resolves resources on tasks of its own): inside a span with the request's id.
    pub fn log_for_request(&self, id: Option<&super::RequestId>) {
        match id {
            Some(super::RequestId(id)) => tracing::info_span!("request", id = %id).in_scope(|| self.log()),
            None => self.log(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        (self.status(), Json(latchkey_types::ApiRefusal { error: self.message(), retry_after: None })).into_response()
    }
}
