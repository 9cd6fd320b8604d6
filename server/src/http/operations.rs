//! What load balancers and operators ask: `GET /healthz` (the process serves; no database
//! call) and `GET /readyz` (the database answers a trivial query within a second, and no
//! shutdown has begun). Neither is rate-limited; both are kept out of the access log at INFO.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use latchkey_types::routes;
use sea_orm::ConnectionTrait;

use crate::Latchkey;

/// How long `/readyz` waits for the database.
const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether this instance should get traffic: not once a shutdown has begun. Cheap to clone.
#[derive(Clone, Default)]
pub struct Readiness {
    shutting_down: Arc<AtomicBool>,
}

impl Readiness {
    /// From now on `/readyz` answers 503, so the load balancer sends no new requests here.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

pub fn router(latchkey: Latchkey, readiness: Readiness) -> Router {
    Router::new()
        .route(routes::HEALTHZ, get(healthz))
        .route(routes::READYZ, get(readyz))
        .with_state((latchkey, readiness))
}

async fn healthz() -> Response {
    plain(StatusCode::OK, "ok")
}

async fn readyz(State((latchkey, readiness)): State<(Latchkey, Readiness)>) -> Response {
    if readiness.is_shutting_down() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match tokio::time::timeout(DATABASE_CHECK_TIMEOUT, latchkey.db().reads().execute_unprepared("SELECT 1")).await {
        Ok(Ok(_)) => plain(StatusCode::OK, "ready"),
        Ok(Err(error)) => {
            tracing::debug!(%error, "not ready: the database refused");
            plain(StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable")
        }
        Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "the database did not answer in time"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
