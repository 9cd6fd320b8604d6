//! Errors of the core as the web sees them: one mapping to HTTP status and message.
//! Sign-in failures have their own page (see `http::auth`); this is for the JSON API and
//! the UI's server functions.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("You need to sign in.")]
    Unauthenticated,
    #[error("{0}")]
    InvalidInput(String),
    #[error("This request did not come from this site.")]
    CrossOrigin,
    #[error("For your safety, please sign in again first (this needs a sign-in within the last 10 minutes).")]
    ReauthenticationRequired,
    #[error("That was not found.")]
    NotFound,
    #[error("latchkey cannot reach its database right now; nothing was changed. Please try again in a moment.")]
    Database(#[from] sea_orm::DbErr),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::CrossOrigin => StatusCode::FORBIDDEN,
            AppError::ReauthenticationRequired => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl crate::storage::Transient for AppError {
    fn is_transient(&self) -> bool {
        matches!(self, AppError::Database(e) if e.is_transient())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Database(e) = &self {
            tracing::error!(error = %e, "database error");
        }
        (self.status(), Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}
