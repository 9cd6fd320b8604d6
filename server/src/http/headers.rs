//! Response headers every answer gets: nothing that shows a person is stored by a browser or
//! a proxy, and browsers are told to use https only when the site is served over https.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::{Config, Latchkey};

/// The built site (`/pkg/…`) and the public files hold nothing personal: they may be cached.
fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg"
}

/// Two years, subdomains included, once the site is on https.
fn strict_transport_security(config: &Config) -> Option<HeaderValue> {
    config.is_https().then(|| HeaderValue::from_static("max-age=63072000; includeSubDomains"))
}

/// Middleware: `Cache-Control: no-store` on every page and API answer (they show emails, IP
/// addresses and browsers), HSTS on https.
pub async fn private_by_default(State(latchkey): State<Latchkey>, request: Request, next: Next) -> Response {
    let cacheable = is_static_asset(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !cacheable {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(hsts) = strict_transport_security(latchkey.config()) {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_only_on_https() {
        let https = Config::from_values([
            ("LATCHKEY_ENV", "production"),
            ("LATCHKEY_PUBLIC_URL", "https://id.example.test"),
            ("LATCHKEY_SECRET_KEY", &"ab".repeat(32)),
            ("LATCHKEY_DATABASE_URL", "postgres://db/latchkey"),
        ])
        .expect("valid");
        let http = Config::from_values([("LATCHKEY_PUBLIC_URL", "http://127.0.0.1:3000")]).expect("valid");

        assert_eq!(
            strict_transport_security(&https).as_ref().map(|v| v.to_str().ok()),
            Some(Some("max-age=63072000; includeSubDomains"))
        );
        assert_eq!(strict_transport_security(&http), None);
    }

    #[test]
    fn only_the_built_site_and_public_files_may_be_cached() {
        assert!(is_static_asset("/pkg/latchkey.wasm") && is_static_asset("/favicon.svg"));
        assert!(!is_static_asset("/profile") && !is_static_asset("/api/me") && !is_static_asset("/auth/dev/login"));
    }
}
