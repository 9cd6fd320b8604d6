//! Cross-site request forgery defence for every state-changing request: a browser always
//! says where a request comes from (`Origin`, or `Sec-Fetch-Site`), and only this site may
//! write. SameSite=Lax cookies are the second line.

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{AppError, Latchkey};

pub async fn reject_cross_origin_writes(State(latchkey): State<Latchkey>, request: Request, next: Next) -> Response {
    if is_safe_method(request.method())
        || is_backchannel_logout(request.uri().path())
        || comes_from_this_site(&latchkey, &request)
    {
        next.run(request).await
    } else {
        tracing::warn!(path = ?request.uri().path(), "refused a cross-origin write");
        AppError::CrossOrigin.into_response()
    }
}

/// A provider's back-channel logout (server to server, no browser, no session): that exact
/// route and no other.
fn is_backchannel_logout(path: &str) -> bool {
    path.strip_prefix("/auth/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(provider, step)| !provider.is_empty() && step == "backchannel-logout")
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn comes_from_this_site(latchkey: &Latchkey, request: &Request) -> bool {
    let headers = request.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let expected = latchkey.config().public_url.origin().ascii_serialization();
        return origin.to_str().is_ok_and(|origin| origin == expected);
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        // Neither header: not a modern browser acting for another site.
        None => true,
    }
}
