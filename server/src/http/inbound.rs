//! Inbound protection: what keeps one slow dependency or one flood of requests from taking the
//! whole server down. A request body larger than [`MAX_BODY_BYTES`] is refused (`413`); a
//! request still unanswered after `LATCHKEY_REQUEST_TIMEOUT_SECONDS` is answered `503`; past
//! `LATCHKEY_MAX_CONCURRENT_REQUESTS` requests in flight, more are shed at once with `503` and
//! `Retry-After` instead of queueing without bound. The operations routes (`/healthz`,
//! `/readyz`) are outside all of it, so probes still answer under load.

use std::convert::Infallible;
use std::future::{Ready, ready};

use axum::Json;
use axum::error_handling::HandleErrorLayer;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use latchkey_types::ApiRefusal;
use tower::layer::util::Stack;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;
use tower::{BoxError, ServiceBuilder};
use tower_http::limit::RequestBodyLimitLayer;

use super::error_page::ErrorPage;
use crate::config::InboundSettings;

/// Forms and JSON bodies are a few hundred bytes; nothing latchkey takes comes near this.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How an overloaded, timed-out or failed request is answered (a plain function type, so that
/// the layers' type can be written down).
type RefuseOverload = fn(Uri, HeaderMap, BoxError) -> Ready<Result<Response, Infallible>>;

/// The layers of [`protect`], inside the ones given.
pub type Protected<L> = Stack<
    TimeoutLayer,
    Stack<
        GlobalConcurrencyLimitLayer,
        Stack<LoadShedLayer, Stack<HandleErrorLayer<RefuseOverload, (Uri, HeaderMap)>, L>>,
    >,
>;

/// Adds the request timeout and the concurrency limit inside `layers`. One stack of layers for
/// the whole application: applied layer by layer, every route would be wrapped (and cloned for
/// every request) once per layer.
pub fn protect<L>(layers: ServiceBuilder<L>, settings: &InboundSettings) -> ServiceBuilder<Protected<L>> {
    layers
        .layer(HandleErrorLayer::new(refuse_overload as RefuseOverload))
        .load_shed()
        // One limit shared by every route (the plain layer would count per route).
        .layer(GlobalConcurrencyLimitLayer::new(settings.max_concurrent_requests))
        .timeout(settings.request_timeout)
}

/// The body limit: innermost, as the request's body becomes a limited one that only the
/// routes (not the middleware functions) take.
pub fn limit_bodies() -> RequestBodyLimitLayer {
    RequestBodyLimitLayer::new(MAX_BODY_BYTES)
}

fn refuse_overload(uri: Uri, headers: HeaderMap, error: BoxError) -> Ready<Result<Response, Infallible>> {
    let refusal = if error.is::<tower::load_shed::error::Overloaded>() {
        crate::metrics::load_shed();
        Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "latchkey is busy",
            message: "latchkey has more requests than it can take right now. Please try again in a moment.".into(),
            retry_after: 1,
        }
    } else if error.is::<tower::timeout::error::Elapsed>() {
        tracing::warn!(path = uri.path(), "a request took longer than the request timeout");
        Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "This took too long",
            message: "latchkey could not answer in time; nothing was changed. Please try again in a moment.".into(),
            retry_after: 5,
        }
    } else {
        tracing::error!(%error, "unexpected error from the inbound layers");
        Refusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Something went wrong",
            message: "Something went wrong on our side. Please try again.".into(),
            retry_after: 1,
        }
    };
    ready(Ok(refusal.for_request(uri.path(), &headers)))
}

/// A request latchkey will not serve now, and when to try again: a page for people, JSON for
/// `/api/*` calls (the hydrated UI reads it as an `ActionError`).
pub(super) struct Refusal {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
    /// Whole seconds, for the `Retry-After` header.
    pub retry_after: u64,
}

impl Refusal {
    pub fn for_request(self, path: &str, headers: &HeaderMap) -> Response {
        let Refusal { status, title, message, retry_after } = self;
        let mut response = if path.starts_with("/api/") && !wants_a_page(headers) {
            (status, Json(ApiRefusal { error: message, retry_after: Some(retry_after) })).into_response()
        } else {
            ErrorPage { status, title: title.to_string(), message, retry_href: None, actions: Vec::new(), reason: None }
                .into_response()
        };
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        response
    }
}

/// A form posted without JavaScript (the UI's server functions take those too) wants a page.
fn wants_a_page(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"))
}
