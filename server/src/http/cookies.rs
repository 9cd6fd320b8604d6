//! The cookies latchkey sets. On https they carry the `__Host-` prefix (which the browser
//! only accepts with Secure, Path=/ and no Domain), so no subdomain can plant or read them.

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::Config;

const SESSION: &str = "latchkey_session";
const LOGIN: &str = "latchkey_login";
const LOGOUT: &str = "latchkey_logout";

fn name(config: &Config, base: &'static str) -> String {
    if config.is_https() { format!("__Host-{base}") } else { base.to_string() }
}

fn build(config: &Config, base: &'static str, value: String, max_age: Option<time::Duration>) -> Cookie<'static> {
    let mut cookie = Cookie::build((name(config, base), value))
        .http_only(true)
        .secure(config.is_https())
        .same_site(SameSite::Lax)
        .path("/")
        .build();
    if let Some(max_age) = max_age {
        cookie.set_max_age(max_age);
    }
    cookie
}

/// The session token from the browser's cookie, if any.
pub fn session_token(config: &Config, jar: &CookieJar) -> Option<String> {
    jar.get(&name(config, SESSION)).map(|c| c.value().to_string())
}

/// The session cookie lives as long as the session's absolute lifetime; the server decides
/// earlier ends (idle timeout, sign-out).
pub fn session_cookie(config: &Config, token: String) -> Cookie<'static> {
    let max_age = time::Duration::try_from(config.sessions.absolute_timeout).ok();
    build(config, SESSION, token, max_age)
}

/// Ends the session cookie (sign-out, account deletion).
pub fn expired_session_cookie(config: &Config) -> Cookie<'static> {
    build(config, SESSION, String::new(), Some(time::Duration::ZERO))
}

pub fn login_token(config: &Config, jar: &CookieJar) -> Option<String> {
    jar.get(&name(config, LOGIN)).map(|c| c.value().to_string())
}

/// Binds pending sign-ins to this browser; lives as long as a pending sign-in.
pub fn login_cookie(config: &Config, token: String) -> Cookie<'static> {
    build(config, LOGIN, token, Some(time::Duration::minutes(10)))
}

/// The `state` of a sign-out sent on to the provider, if this browser has one under way.
pub fn logout_state(config: &Config, jar: &CookieJar) -> Option<String> {
    jar.get(&name(config, LOGOUT)).map(|c| c.value().to_string())
}

/// Binds a sign-out at the provider to this browser until the provider sends it back.
pub fn logout_state_cookie(config: &Config, state: String) -> Cookie<'static> {
    build(config, LOGOUT, state, Some(time::Duration::minutes(10)))
}

/// Ends the sign-out binding once the provider has sent the browser back.
pub fn expired_logout_state_cookie(config: &Config) -> Cookie<'static> {
    build(config, LOGOUT, String::new(), Some(time::Duration::ZERO))
}
