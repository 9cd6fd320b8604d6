//! The core's HTTP surface: `/auth/*`, `/account/*` form posts and `/api/me`.

mod account;
mod auth;
mod cookies;
mod error_page;
mod guard;

use axum::Router;
use axum::routing::{get, post};

pub use cookies::{login_token, session_token};
pub use error_page::ErrorPage;
pub use guard::reject_cross_origin_writes;

use crate::Latchkey;

pub fn router(latchkey: Latchkey) -> Router {
    Router::new()
        .route("/auth/{provider}/login", get(auth::login))
        .route("/auth/{provider}/callback", get(auth::callback))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/{provider}/link", post(auth::link))
        .route("/auth/pending-link/confirm", post(account::confirm_pending_link))
        .route("/auth/pending-link/dismiss", post(account::dismiss_pending_link))
        .route("/account/identities/{identity}/unlink", post(account::unlink))
        .route("/account/identities/{identity}/refresh-profile", post(account::refresh_profile))
        .route("/account/sessions/{session}/revoke", post(account::revoke_session))
        .route("/account/delete", post(account::delete_account))
        .route("/api/me", get(auth::me))
        .with_state(latchkey)
}
