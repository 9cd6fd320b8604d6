//! Turning a request into what the services take: the authenticated [`Session`] (looked up
//! once per request, however many extractors and server functions ask), the client's
//! address and browser, and the browser-binding cookie.
//!
//! Every request passes through [`attach_request_context`] first, which makes these work in axum
//! handlers and in the UI's server functions (`leptos_axum::extract`) alike.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use tokio::sync::OnceCell;

use super::client_address::client_address;
use super::{AppError, cookies};
use crate::Latchkey;
use crate::session::{ClientInfo, Session};
use crate::types::{Me, routes};

/// What the edge keeps per request: the core, the client's address, and the session once it
/// has been looked up.
#[derive(Clone)]
struct RequestContext {
    latchkey: Latchkey,
    client_ip: Option<IpAddr>,
    session: Arc<OnceCell<Option<Session>>>,
}

/// Attaches the per-request context the extractors read (a `map_request` layer: it waits for
/// nothing, and a plain function layer costs less than a middleware future per request).
pub fn attach_request_context(latchkey: &Latchkey, mut request: Request) -> Request {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let client_ip = peer.map(|peer| client_address(peer, request.headers(), &latchkey.config().trusted_proxies));
    request.extensions_mut().insert(RequestContext { latchkey: latchkey.clone(), client_ip, session: Arc::default() });
    request
}

/// The client's address (see [`client_address`]), once [`attach_request_context`] has run.
pub fn client_ip(request: &Request) -> Option<IpAddr> {
    request.extensions().get::<RequestContext>().and_then(|context| context.client_ip)
}

fn context(extensions: &Extensions) -> Result<RequestContext, AppError> {
    extensions.get::<RequestContext>().cloned().ok_or(AppError::Internal("the request context is missing"))
}

/// The request's session, if it has a live one.
pub struct MaybeSession(pub Option<Session>);

impl MaybeSession {
    /// The request's session, with the typed error (to answer with the right status).
    pub async fn of(parts: &Parts) -> Result<Option<Session>, AppError> {
        SessionLookup::of(parts)?.session().await
    }
}

/// A request's session lookup, detached from the request: what a caller that cannot keep the
/// request's parts borrowed while it waits takes instead of a copy of them.
pub struct SessionLookup {
    context: RequestContext,
    token: Option<String>,
}

impl SessionLookup {
    pub fn of(parts: &Parts) -> Result<SessionLookup, AppError> {
        SessionLookup::from_head(&parts.extensions, &parts.headers)
    }

    fn from_head(extensions: &Extensions, headers: &HeaderMap) -> Result<SessionLookup, AppError> {
        let context = context(extensions)?;
        let token = cookies::session_token(context.latchkey.config(), headers);
        Ok(SessionLookup { context, token })
    }

    /// The session, if the request has a live one (authenticated once per request).
    pub async fn session(self) -> Result<Option<Session>, AppError> {
        let SessionLookup { context, token } = self;
        let Some(token) = token else { return Ok(None) };
        Ok(context.session.get_or_try_init(|| context.latchkey.sessions().authenticate(&token)).await?.clone())
    }

    /// The signed-in person as the pages show them, if the request has a live session: read
    /// with the session in one statement where SQLite is read inline, unless the request's
    /// session is known already. The session is kept for the rest of the request.
    pub async fn person(self) -> Result<Option<Me>, AppError> {
        let SessionLookup { context, token } = self;
        let Some(token) = token else { return Ok(None) };
        let latchkey = &context.latchkey;
        if let Some(known) = context.session.get() {
            let Some(session) = known else { return Ok(None) };
            return Ok(Some(latchkey.accounts().me(session).await?));
        }
        let found = latchkey.sessions().authenticate_with_identities_and_tokens(&token).await?;
        let (session, me) = match found {
            Some((session, identities)) => {
                let me = latchkey.accounts().me_with(&session, identities);
                (Some(session), Some(me))
            }
            None => (None, None),
        };
        // Another task of this request may have looked the session up meanwhile: either
        // answer is the same session.
        let _ = context.session.set(session);
        Ok(me)
    }
}

/// The signed-in person of a request for one of their own pages ([`routes::ACCOUNT_PAGES`]),
/// as [`load_signed_in_person`] loaded them before the page renders (`Ok(None)`: nobody is
/// signed in).
#[derive(Clone)]
pub struct SignedInPerson(pub Result<Option<Arc<Me>>, Arc<AppError>>);

/// Middleware: loads the signed-in person before one of their own pages renders, so the page
/// renders in one synchronous pass. Awaited inside the render (under `Suspense`), the same
/// query made the page cost a third more (`/profile`: 752,857 → 519,107 instructions).
pub async fn load_signed_in_person(mut request: Request, next: Next) -> Response {
    let reads_a_page = matches!(*request.method(), Method::GET | Method::HEAD);
    if reads_a_page && routes::ACCOUNT_PAGES.contains(&request.uri().path()) {
        let lookup = SessionLookup::from_head(request.extensions(), request.headers());
        let person = signed_in_person(lookup).await.map_err(Arc::new);
        request.extensions_mut().insert(SignedInPerson(person));
    }
    next.run(request).await
}

async fn signed_in_person(lookup: Result<SessionLookup, AppError>) -> Result<Option<Arc<Me>>, AppError> {
    Ok(lookup?.person().await?.map(Arc::new))
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        MaybeSession::of(parts).await.map(MaybeSession)
    }
}

/// Who is asking, from where: recorded on sessions and in the activity log.
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(ClientInfo {
            user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
            ip: parts.extensions.get::<RequestContext>().and_then(|context| context.client_ip).map(|ip| ip.to_string()),
        }))
    }
}

/// The browser-binding cookie's token: pending sign-ins and links belong to one browser.
pub struct BrowserBinding(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for BrowserBinding {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let context = context(&parts.extensions)?;
        let jar = CookieJar::from_headers(&parts.headers);
        Ok(BrowserBinding(cookies::login_token(context.latchkey.config(), &jar)))
    }
}
