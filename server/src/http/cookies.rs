//! The cookies latchkey sets. On https they carry the `__Host-` prefix (which the browser
//! only accepts with Secure, Path=/ and no Domain), so no subdomain can plant or read them.

use axum::http::{HeaderMap, header};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::Config;

/// A cookie's name over http, and over https (with the `__Host-` prefix).
type Names = (&'static str, &'static str);

const SESSION: Names = ("latchkey_session", "__Host-latchkey_session");
const LOGIN: Names = ("latchkey_login", "__Host-latchkey_login");
const LOGOUT: Names = ("latchkey_logout", "__Host-latchkey_logout");

fn name(config: &Config, (plain, host_only): Names) -> &'static str {
    if config.is_https() { host_only } else { plain }
}

fn build(config: &Config, base: Names, value: String, max_age: Option<time::Duration>) -> Cookie<'static> {
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

/// The session token from the browser's cookie, if any. Read from the request's `Cookie`
/// headers in place: every request asks, and a `CookieJar` would parse and copy every cookie
/// into a set first. The last cookie of the name counts, as in a jar.
pub fn session_token(config: &Config, headers: &HeaderMap) -> Option<String> {
    let wanted = name(config, SESSION);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter(|pair| pair.split_once('=').is_some_and(|(name, _)| name.trim() == wanted))
        .filter_map(|pair| Cookie::parse_encoded(pair.trim()).ok())
        .next_back()
        .map(|cookie| cookie.value().to_string())
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
    jar.get(name(config, LOGIN)).map(|c| c.value().to_string())
}

/// Binds pending sign-ins to this browser; lives as long as a pending sign-in.
pub fn login_cookie(config: &Config, token: String) -> Cookie<'static> {
    build(config, LOGIN, token, Some(time::Duration::minutes(10)))
}

/// The `state` of a sign-out sent on to the provider, if this browser has one under way.
pub fn logout_state(config: &Config, jar: &CookieJar) -> Option<String> {
    jar.get(name(config, LOGOUT)).map(|c| c.value().to_string())
}

/// Binds a sign-out at the provider to this browser until the provider sends it back.
pub fn logout_state_cookie(config: &Config, state: String) -> Cookie<'static> {
    build(config, LOGOUT, state, Some(time::Duration::minutes(10)))
}

/// Ends the sign-out binding once the provider has sent the browser back.
pub fn expired_logout_state_cookie(config: &Config) -> Cookie<'static> {
    build(config, LOGOUT, String::new(), Some(time::Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with(cookie_headers: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in cookie_headers {
            headers.append(header::COOKIE, value.parse().expect("a header value"));
        }
        headers
    }

    #[test]
    fn the_session_token_is_the_last_cookie_of_exactly_its_name_decoded() {
        let config = Config::from_values(Vec::<(String, String)>::new()).expect("defaults");
        let read = |headers: &[&str]| session_token(&config, &request_with(headers));

        assert_eq!(read(&["theme=dark; latchkey_session=abc%2Bdef; lang=en"]).as_deref(), Some("abc+def"));
        assert_eq!(read(&["latchkey_session=first", "latchkey_session=second"]).as_deref(), Some("second"));
        assert_eq!(read(&["x_latchkey_session=no; latchkey_sessions=no"]), None, "only the exact name");
        assert_eq!(read(&["__Host-latchkey_session=no"]), None, "over http the prefixed name is another cookie");
        assert_eq!(read(&[]), None);
    }

    #[test]
    fn over_https_only_the_host_only_session_cookie_counts() {
        let config = Config::from_values([("LATCHKEY_PUBLIC_URL", "https://127.0.0.1:3000")]).expect("https");
        let read = |headers: &[&str]| session_token(&config, &request_with(headers));

        assert_eq!(read(&["latchkey_session=planted; __Host-latchkey_session=real"]).as_deref(), Some("real"));
        assert_eq!(read(&["latchkey_session=planted"]), None, "a cookie a subdomain could set is not the session");
    }
}
