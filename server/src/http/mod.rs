//! The HTTP edge: the protocol routes (`/auth/*`, `/api/me`, `/api/token` and the JWKS; the account's changes are the
//! UI's server functions), the extractors that turn a request into what the services take,
//! the same-site guard, cookies, and errors mapped to statuses and pages. The UI's server
//! functions use the same extractors.

mod api;
mod auth;
mod client_address;
pub mod cookies;
mod error;
mod error_page;
pub mod extract;
mod guard;
mod headers;
mod inbound;
pub mod operations;
mod rate_limit;
mod request_log;
mod site;
mod static_files;

use axum::Router;
use axum::routing::{get, post};
use latchkey_types::routes;

pub use error::AppError;
pub use error_page::ErrorPage;
pub use extract::{attach_request_context, load_signed_in_person};
pub use guard::reject_cross_origin_writes;
pub use headers::{CspNonce, SecurityHeaders, security_headers};
pub use inbound::{MAX_BODY_BYTES, Protected, limit_bodies, protect};
pub use rate_limit::{RateLimits, limit_rates};
pub use request_log::{RequestId, log_request};
pub use site::use_stylesheet;
pub use static_files::StaticFiles;

use crate::Latchkey;

pub fn router(latchkey: Latchkey) -> Router {
    Router::new()
        .route(routes::LOGIN_TEMPLATE, get(auth::login))
        .route(routes::CALLBACK_TEMPLATE, get(auth::callback))
        .route(routes::BACKCHANNEL_LOGOUT_TEMPLATE, post(auth::backchannel_logout))
        .route(routes::LOGOUT, post(auth::logout))
        .route(routes::LOGGED_OUT_TEMPLATE, get(auth::logged_out))
        .route(routes::LINK_TEMPLATE, post(auth::link))
        .route(routes::API_ME, get(api::me))
        .route(routes::API_TOKEN, post(api::token))
        .route(routes::JWKS, get(api::jwks))
        .with_state(latchkey)
}
