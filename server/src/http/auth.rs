//! `/auth/{provider}/login`, `/auth/{provider}/callback`, `/auth/logout` (and the way back
//! from the provider's sign-out, `/auth/{provider}/logged-out`) and the back-channel logout
//! receiver.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use latchkey_types::routes::SignedOut;
use latchkey_types::{ProviderId, routes};

use super::cookies;
use super::error_page::ErrorPage;
use super::extract::{Client, MaybeSession};
use crate::login::{CallbackOutcome, CallbackParams, LoginError, LoginStart, Purpose};
use crate::provider::{IdTokenRule, ProviderError};
use crate::{AppError, Latchkey};

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

pub async fn login(
    State(latchkey): State<Latchkey>,
    Path(provider_id): Path<String>,
    Query(query): Query<LoginQuery>,
    jar: CookieJar,
) -> Response {
    let config = latchkey.config();
    let browser_token = cookies::login_token(config, &jar);
    let start = latchkey
        .login_flow()
        .start(&provider_id, query.return_to.as_deref(), browser_token.as_deref(), Purpose::SignIn)
        .await;
    to_provider(&latchkey, &provider_id, jar, start)
}

/// `POST /auth/{provider}/link`: a signed-in person adds another identity to their account.
pub async fn link(
    State(latchkey): State<Latchkey>,
    Path(provider_id): Path<String>,
    MaybeSession(session): MaybeSession,
    jar: CookieJar,
) -> Response {
    let Some(session) = session else { return private(Redirect::to(routes::HOME).into_response()) };
    // Linking adds a way into the account: like unlinking, it needs a recent sign-in, so an
    // old stolen session cannot add its thief's identity.
    if !session.is_recent() {
        let back = routes::refused(routes::ACCOUNTS, "link", routes::problem::RECENT_SIGN_IN_NEEDED);
        return private(Redirect::to(&back).into_response());
    }
    let browser_token = cookies::login_token(latchkey.config(), &jar);
    let start = latchkey
        .login_flow()
        .start(
            &provider_id,
            Some(routes::ACCOUNTS),
            browser_token.as_deref(),
            Purpose::Link { user_id: session.user.id },
        )
        .await;
    to_provider(&latchkey, &provider_id, jar, start)
}

fn to_provider(
    latchkey: &Latchkey,
    provider_id: &str,
    jar: CookieJar,
    start: Result<LoginStart, LoginError>,
) -> Response {
    match start {
        Ok(start) => {
            // (Re)set the binding cookie so it outlives this attempt by the full ten minutes.
            let jar = jar.add(cookies::login_cookie(latchkey.config(), start.browser_token));
            private((jar, Redirect::to(start.redirect_to.as_str())).into_response())
        }
        Err(error) => {
            tracing::warn!(provider = ?provider_id, %error, "could not start a sign-in");
            failure_page(latchkey, provider_id, &error).into_response()
        }
    }
}

pub async fn callback(
    State(latchkey): State<Latchkey>,
    Path(provider_id): Path<String>,
    Query(params): Query<CallbackParams>,
    Client(client): Client,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let config = latchkey.config();
    let outcome = latchkey
        .login_flow()
        .callback(
            &provider_id,
            &params,
            cookies::login_token(config, &jar).as_deref(),
            cookies::session_token(config, &headers).as_deref(),
            &client,
        )
        .await;
    // Counted only for a configured provider: the id of an unknown one is the request's text.
    if latchkey.provider_list().get(&provider_id).is_some() {
        crate::metrics::sign_in(&provider_id, outcome_label(&outcome));
    }
    match outcome {
        Ok(CallbackOutcome::SignedIn(signed_in)) => {
            let jar = jar.add(cookies::session_cookie(config, signed_in.session_token));
            private((jar, Redirect::to(&signed_in.return_to)).into_response())
        }
        Ok(CallbackOutcome::EmailBelongsToExistingAccount { email, provider_ids }) => {
            private(email_in_use_page(&latchkey, &provider_id, &email, &provider_ids).into_response())
        }
        Err(error) => {
            tracing::warn!(provider = ?provider_id, %error, "sign-in failed");
            failure_page(&latchkey, &provider_id, &error).into_response()
        }
    }
}

/// The form of `POST /auth/logout`.
#[derive(serde::Deserialize)]
pub struct LogoutForm {
    /// `1`: sign out at the session's provider too.
    from_provider: Option<String>,
}

/// `POST /auth/logout`: ends this browser's session and `303`s home; with `from_provider=1`,
/// `303`s instead to the session's provider to sign out there too (RP-Initiated Logout 1.0),
/// which sends the browser back to `/auth/{provider}/logged-out`. A provider that offers no
/// such endpoint, or cannot be reached, leaves a note on the home page instead.
pub async fn logout(
    State(latchkey): State<Latchkey>,
    MaybeSession(session): MaybeSession,
    jar: CookieJar,
    form: Result<axum::Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let config = latchkey.config();
    let jar = jar.add(cookies::expired_session_cookie(config));
    let Some(session) = session else { return private((jar, Redirect::to(routes::HOME)).into_response()) };
    let from_provider = form.is_ok_and(|axum::Form(form)| form.from_provider.as_deref() == Some("1"));
    // What signing out at the provider needs is read before the session (and its ID token) goes.
    let provider = if from_provider {
        match latchkey.sessions().provider_of(&session).await {
            Ok(provider_id) => provider_id.and_then(|id| latchkey.provider_list().get(&id).cloned()),
            Err(e) => return AppError::from(e).into_response(),
        }
    } else {
        None
    };
    let id_token = provider.as_ref().and_then(|_| latchkey.sessions().sign_in_id_token(&session));
    if let Err(e) = latchkey.sessions().end(&session).await {
        return AppError::from(e).into_response();
    }
    let Some(provider) = provider else { return private((jar, Redirect::to(routes::HOME)).into_response()) };
    let state = crate::util::random_token();
    let come_back_to = config.post_logout_redirect_uri(provider.id());
    let note = |how| routes::signed_out(how, &ProviderId::new(provider.id()));
    match provider.end_session_url(id_token.as_deref(), &come_back_to, &state).await {
        Ok(Some(url)) => {
            let jar = jar.add(cookies::logout_state_cookie(config, state));
            private((jar, Redirect::to(url.as_str())).into_response())
        }
        Ok(None) => private((jar, Redirect::to(&note(SignedOut::ProviderCannot))).into_response()),
        Err(error) => {
            tracing::warn!(provider = provider.id(), %error, "could not sign out at the provider");
            private((jar, Redirect::to(&note(SignedOut::ProviderUnreachable))).into_response())
        }
    }
}

#[derive(serde::Deserialize)]
pub struct LoggedOutQuery {
    state: Option<String>,
}

/// `GET /auth/{provider}/logged-out`: the provider sends the browser back here after signing
/// the person out there too. The home page says so only when `state` is this browser's own
/// sign-out; any other visit just lands on the home page.
pub async fn logged_out(
    State(latchkey): State<Latchkey>,
    Path(provider_id): Path<String>,
    Query(query): Query<LoggedOutQuery>,
    jar: CookieJar,
) -> Response {
    let config = latchkey.config();
    let expected = cookies::logout_state(config, &jar).filter(|state| !state.is_empty());
    let jar = jar.add(cookies::expired_logout_state_cookie(config));
    let ours = expected.is_some() && expected == query.state && latchkey.provider_list().get(&provider_id).is_some();
    let home = if ours {
        routes::signed_out(SignedOut::AtProviderToo, &ProviderId::new(&provider_id))
    } else {
        routes::HOME.to_string()
    };
    private((jar, Redirect::to(&home)).into_response())
}

/// A callback's outcome for the sign-in counter: `ok`, or the refusal's reason.
fn outcome_label(outcome: &Result<CallbackOutcome, LoginError>) -> &'static str {
    match outcome {
        Ok(CallbackOutcome::SignedIn(_)) => "ok",
        Ok(CallbackOutcome::EmailBelongsToExistingAccount { .. }) => "email_in_use",
        Err(LoginError::UnknownProvider(_)) => "unknown_provider",
        Err(LoginError::ProviderDenied { .. }) => "denied_at_provider",
        Err(LoginError::MissingState | LoginError::NoPendingLogin | LoginError::Expired) => "no_pending_sign_in",
        Err(LoginError::OtherBrowser) => "other_browser",
        Err(LoginError::ProviderMismatch) => "provider_mismatch",
        Err(LoginError::MissingCode) => "missing_code",
        Err(LoginError::LinkSessionEnded) => "link_session_ended",
        Err(LoginError::IdentityBelongsToAnotherAccount) => "identity_elsewhere",
        Err(LoginError::AccountDisabled) => "account_disabled",
        Err(LoginError::Provider(ProviderError::Unavailable(_))) => "provider_unavailable",
        Err(LoginError::Provider(ProviderError::InvalidIdToken { .. })) => "invalid_id_token",
        Err(LoginError::Provider(ProviderError::CodeRejected(_))) => "code_rejected",
        Err(LoginError::Provider(_)) => "invalid_provider_answer",
        Err(LoginError::Database(_)) => "database",
    }
}

/// The form a provider posts to `/auth/{provider}/backchannel-logout`.
#[derive(serde::Deserialize)]
pub struct LogoutTokenForm {
    logout_token: String,
}

/// `POST /auth/{provider}/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0): ends
/// the sessions a valid logout token names and answers `200` (also when none matched); a token
/// that is invalid or seen before answers `400` and changes nothing; `503` when the provider's
/// keys cannot be had to check it (the provider may try again).
pub async fn backchannel_logout(
    State(latchkey): State<Latchkey>,
    Path(provider_id): Path<String>,
    form: Result<axum::Form<LogoutTokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    use crate::provider::logout_token::LogoutTokenError;
    use crate::session::LoggedOut;
    let Some(provider) = latchkey.provider_list().get(&provider_id).cloned() else {
        return logout_refused(StatusCode::NOT_FOUND, "no such provider");
    };
    let Ok(axum::Form(form)) = form else {
        crate::metrics::backchannel_logout(&provider_id, "no_token");
        return logout_refused(StatusCode::BAD_REQUEST, "the form field logout_token is missing");
    };
    let request = match provider.verify_logout_token(&form.logout_token).await {
        Ok(request) => request,
        Err(LogoutTokenError::Refused(rule)) => {
            tracing::warn!(provider = %provider_id, %rule, "refused a back-channel logout token");
            crate::metrics::backchannel_logout(&provider_id, "invalid_token");
            return logout_refused(StatusCode::BAD_REQUEST, "the logout token is not valid");
        }
        Err(LogoutTokenError::Provider(error)) => {
            tracing::warn!(provider = %provider_id, %error, "could not check a back-channel logout token");
            crate::metrics::backchannel_logout(&provider_id, "provider_unavailable");
            return logout_refused(StatusCode::SERVICE_UNAVAILABLE, "the provider's keys could not be read");
        }
    };
    match latchkey.sessions().end_for_provider(&provider_id, &request).await {
        Ok(LoggedOut::Ended(sessions)) => {
            tracing::info!(provider = %provider_id, sessions, "back-channel logout");
            crate::metrics::backchannel_logout(&provider_id, "ok");
            private(StatusCode::OK.into_response())
        }
        Ok(LoggedOut::Replayed) => {
            tracing::warn!(provider = %provider_id, "refused a replayed back-channel logout token");
            crate::metrics::backchannel_logout(&provider_id, "replayed");
            logout_refused(StatusCode::BAD_REQUEST, "the logout token was already used")
        }
        Err(error) => AppError::from(error).into_response(),
    }
}

/// The error answer Back-Channel Logout 1.0 section 2.8 allows: a status and
/// `{"error","error_description"}`, never cached.
fn logout_refused(status: StatusCode, description: &str) -> Response {
    let body = serde_json::json!({"error": "invalid_request", "error_description": description});
    private((status, Json(body)).into_response())
}

/// Sign-in responses carry codes and tokens in URLs and cookies: never cache them, never
/// leak them in a Referer.
pub(super) fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// What a person sees when a sign-in fails: what happened, in plain words, and a way back.
fn failure_page(latchkey: &Latchkey, provider_id: &str, error: &LoginError) -> ErrorPage {
    let provider_name = latchkey.provider_list().name_of(provider_id);
    let retry = Some(routes::login_default(&ProviderId::new(provider_id)));
    let (status, title, message, retry_href) = match error {
        LoginError::UnknownProvider(_) => (
            StatusCode::NOT_FOUND,
            "Unknown sign-in option".to_string(),
            "There is no sign-in option by that name. Please choose one from the home page.".to_string(),
            None,
        ),
        LoginError::ProviderDenied { error, .. } if error == "access_denied" => (
            StatusCode::FORBIDDEN,
            "Sign-in cancelled".to_string(),
            format!("The sign-in at {provider_name} was cancelled or denied, so you are not signed in. Nothing was changed."),
            retry,
        ),
        // The code comes from the request: only known codes are named, in words of our own.
        LoginError::ProviderDenied { error, .. } => (
            StatusCode::BAD_REQUEST,
            "Sign-in did not complete".to_string(),
            format!("{provider_name} reported a problem{}, so you are not signed in.", provider_problem(error)),
            retry,
        ),
        LoginError::MissingState | LoginError::NoPendingLogin | LoginError::Expired => (
            StatusCode::BAD_REQUEST,
            "This sign-in has expired".to_string(),
            "This sign-in link was already used, took longer than 10 minutes, or was not started here. Please start again."
                .to_string(),
            retry,
        ),
        LoginError::OtherBrowser => (
            StatusCode::BAD_REQUEST,
            "Sign-in started elsewhere".to_string(),
            "For your safety a sign-in must finish in the same browser where it started. Please start again here."
                .to_string(),
            retry,
        ),
        LoginError::Provider(ProviderError::Unavailable(_)) => (
            StatusCode::BAD_GATEWAY,
            format!("{provider_name} is not responding"),
            format!("We could not reach {provider_name} to complete your sign-in. Please try again in a moment."),
            retry,
        ),
        LoginError::ProviderMismatch | LoginError::MissingCode | LoginError::Provider(_) => (
            StatusCode::BAD_REQUEST,
            "We could not verify this sign-in".to_string(),
            format!(
                "The answer from {provider_name} did not pass latchkey's security checks, so you are not signed in. Nothing was changed."
            ),
            retry,
        ),
        LoginError::LinkSessionEnded => (
            StatusCode::BAD_REQUEST,
            "Your session ended".to_string(),
            "You were signed out before linking finished, so nothing was linked. Sign in and try again.".to_string(),
            None,
        ),
        LoginError::IdentityBelongsToAnotherAccount => (
            StatusCode::CONFLICT,
            "That account is already in use".to_string(),
            format!(
                "This {provider_name} account is already linked to a different latchkey account, so it was not linked to yours. \
                 If both accounts are yours, sign in with that {provider_name} account, unlink it there, then link it here."
            ),
            None,
        ),
        LoginError::AccountDisabled => (
            StatusCode::FORBIDDEN,
            "This account is disabled".to_string(),
            "An administrator has disabled this account, so you cannot sign in. Nothing was changed. \
             If you think this is a mistake, ask your administrator to re-enable it."
                .to_string(),
            None,
        ),
        LoginError::Database(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "latchkey is having trouble".to_string(),
            "We could not save your sign-in, so nothing was changed. Please try again in a moment.".to_string(),
            retry,
        ),
    };
    ErrorPage { status, title, message, retry_href, actions: Vec::new(), reason: reason(error) }
}

/// A provider's error code (RFC 6749 4.1.2.1, OpenID Connect Core 3.1.2.6) in fixed words;
/// nothing for a code we do not know, so no request can put its own text on the page.
fn provider_problem(code: &str) -> &'static str {
    match code {
        "server_error" => " (an error on its side)",
        "temporarily_unavailable" => " (it is temporarily unavailable)",
        "invalid_request" | "unsupported_response_type" | "invalid_scope" | "unauthorized_client" => {
            " (it refused latchkey's request: check the provider's settings)"
        }
        "login_required" | "interaction_required" | "consent_required" | "account_selection_required" => {
            " (it needs you to sign in or consent there first)"
        }
        _ => "",
    }
}

/// Which check refused a sign-in, for the failure page; `None` where the title says it all.
fn reason(error: &LoginError) -> Option<&'static str> {
    Some(match error {
        LoginError::Provider(ProviderError::InvalidIdToken { rule, .. }) => match rule {
            IdTokenRule::Signature => {
                "the ID token is not signed by one of the provider's keys with an allowed algorithm."
            }
            IdTokenRule::Issuer => "the ID token was issued by someone other than the provider.",
            IdTokenRule::Audience => "the ID token was issued for another application, or for others besides latchkey.",
            IdTokenRule::AuthorizedParty => "the ID token was issued to another application (azp).",
            IdTokenRule::Expiry => "the ID token has expired.",
            IdTokenRule::IssuedInFuture => "the ID token claims to be issued in the future.",
            IdTokenRule::IssuedTooLongAgo => "the ID token was issued too long ago.",
            IdTokenRule::Nonce => "the ID token does not belong to this sign-in (nonce).",
            IdTokenRule::AccessTokenHash => "the ID token was issued with another access token (at_hash).",
            IdTokenRule::Claims => "the ID token lacks a claim this provider requires, or has one it does not allow.",
        },
        LoginError::Provider(ProviderError::InvalidUserInfo(_)) => {
            "the provider's userinfo answer does not match the ID token."
        }
        LoginError::Provider(ProviderError::CodeRejected(_)) => "the provider refused the sign-in code.",
        LoginError::Provider(ProviderError::InvalidResponse(_)) => {
            "the provider's answer is not what OpenID Connect requires (for example, an `iss` naming another issuer)."
        }
        LoginError::ProviderMismatch => "the answer came back for another provider.",
        LoginError::MissingCode => "the answer carries no sign-in code.",
        _ => return None,
    })
}

/// A new identity whose verified email already has an account: explain, and offer to sign in
/// to that account with one of its providers (which then offers the link in one click).
fn email_in_use_page(latchkey: &Latchkey, provider_id: &str, email: &str, provider_ids: &[String]) -> ErrorPage {
    let name_of = |id: &str| latchkey.provider_list().name_of(id);
    let configured = latchkey.providers();
    let actions = provider_ids
        .iter()
        .filter(|id| configured.iter().any(|p| p.id == id.as_str()))
        .map(|id| (format!("Sign in with {}", name_of(id)), routes::login(&ProviderId::new(id), routes::ACCOUNTS)))
        .collect();
    ErrorPage {
        status: StatusCode::CONFLICT,
        title: "You already have an account".to_string(),
        message: format!(
            "An account with the email {email} already exists. To add this {} sign-in to it, first sign in to that \
             account with {} — then you can link this one in one click. Nothing was created.",
            name_of(provider_id),
            provider_ids.iter().map(|id| name_of(id)).collect::<Vec<_>>().join(" or "),
        ),
        retry_href: None,
        actions,
        reason: None,
    }
}
