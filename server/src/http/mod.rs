//! The HTTP edge: the core's routes (`/auth/*`, the `/account/*` form posts, `/api/me`), the
//! extractors that turn a request into what the services take, the same-site guard, cookies,
//! and errors mapped to statuses and pages. The UI's server functions use the same extractors.

mod account;
mod auth;
mod cookies;
mod error;
mod error_page;
pub mod extract;
mod guard;

use axum::Router;
use axum::routing::{get, post};
use latchkey_types::routes;

pub use error::AppError;
pub use error_page::ErrorPage;
pub use extract::attach_request_context;
pub use guard::reject_cross_origin_writes;

use crate::Latchkey;

pub fn router(latchkey: Latchkey) -> Router {
    Router::new()
        .route(routes::LOGIN_TEMPLATE, get(auth::login))
        .route(routes::CALLBACK_TEMPLATE, get(auth::callback))
        .route(routes::LOGOUT, post(auth::logout))
        .route(routes::LINK_TEMPLATE, post(auth::link))
        .route(routes::PENDING_LINK_CONFIRM, post(account::confirm_pending_link))
        .route(routes::PENDING_LINK_DISMISS, post(account::dismiss_pending_link))
        .route(routes::UNLINK_TEMPLATE, post(account::unlink))
        .route(routes::REFRESH_PROFILE_TEMPLATE, post(account::refresh_profile))
        .route(routes::REVOKE_SESSION_TEMPLATE, post(account::revoke_session))
        .route(routes::DELETE_ACCOUNT, post(account::delete_account))
        .route(routes::API_ME, get(auth::me))
        .with_state(latchkey)
}
