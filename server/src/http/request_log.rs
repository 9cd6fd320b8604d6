//! Request ids and the access log. Every answer carries `X-Request-Id` (the caller's, when it
//! is short and plain, else a new one); every log line written while a request is served
//! carries it too (in the `request` span); and each request ends with one INFO line: method,
//! route template, status, latency and id — never a query string (on `/auth/*` it holds codes
//! and states) and never a cookie. The probes log at DEBUG.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use latchkey_types::routes;
use tracing::Instrument;

const REQUEST_ID: &str = "x-request-id";

/// This request's id (also in the request's extensions, for whoever needs it).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// An incoming id is kept when a log system can use it as it is: 1 to 64 characters of
/// letters, digits, `-`, `_`, `.` and `:`.
fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Middleware (outermost, applied to every route so that the route template is known).
pub async fn log_request(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| acceptable(id))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_string());
    let probe = matches!(route.as_deref(), Some(routes::HEALTHZ) | Some(routes::READYZ));
    let started = Instant::now();
    let span = tracing::info_span!("request", id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let route = route.as_deref().unwrap_or("(no route)");
    let status = response.status().as_u16();
    crate::metrics::request(route, status, elapsed);
    span.in_scope(|| {
        if probe {
            tracing::debug!(%method, route, status, latency_ms, "served");
        } else {
            tracing::info!(%method, route, status, latency_ms, "served");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_incoming_ids_are_kept() {
        assert!(acceptable("abc-123_x.y:z") && acceptable(&"a".repeat(64)));
        for bad in ["", "has space", "new\nline", "quote\"", &"a".repeat(65), "ümlaut"] {
            assert!(!acceptable(bad), "{bad:?}");
        }
    }
}
