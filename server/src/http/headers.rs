//! Response headers every answer gets: nothing that shows a person is stored by a browser or
//! a proxy; browsers use https only once the site is served over https; and every page carries
//! a Content-Security-Policy with a fresh nonce, which only latchkey's own scripts carry.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{Config, Latchkey};

/// The built site (`/pkg/…`), the public files and the access tokens' public keys hold nothing
/// personal: they may be cached (each says for how long).
fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg" || path == latchkey_types::routes::JWKS
}

/// Two years, subdomains included, once the site is on https.
fn strict_transport_security(config: &Config) -> Option<HeaderValue> {
    config.is_https().then(|| HeaderValue::from_static("max-age=63072000; includeSubDomains"))
}

/// This response's script nonce (128 random bits): in the request's extensions for the page
/// renderer to put on its scripts, and in the response's Content-Security-Policy.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

impl CspNonce {
    fn generate() -> Self {
        use rand::RngCore;
        // The thread's CSPRNG (seeded from the OS): a nonce per response without a system call.
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        CspNonce(URL_SAFE_NO_PAD.encode(bytes))
    }
}

/// What the policy allows besides the site itself.
#[derive(Clone)]
pub struct SecurityHeaders {
    latchkey: Latchkey,
    /// `cargo leptos watch`'s live-reload socket (`ws://…`), during development only.
    live_reload: Option<String>,
}

impl SecurityHeaders {
    pub fn new(latchkey: Latchkey, live_reload: Option<String>) -> Self {
        SecurityHeaders { latchkey, live_reload }
    }

    /// Scripts: only those carrying this response's nonce (the hydration scripts), and the
    /// WebAssembly they load. Forms may post to the site, and be redirected from there to a
    /// provider's sign-in page (`form-action` governs that redirect too). No framing, no
    /// plugins, no `<base>`, and styles only from the site's stylesheet.
    fn content_security_policy(&self, nonce: &CspNonce) -> String {
        let form_targets: String =
            self.latchkey.provider_list().authorization_origins().iter().map(|origin| format!(" {origin}")).collect();
        let live_reload = self.live_reload.as_deref().map(|socket| format!(" {socket}")).unwrap_or_default();
        format!(
            "default-src 'self'; script-src 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' https: data:; connect-src 'self'{live_reload}; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'; form-action 'self'{form_targets}",
            nonce = nonce.0
        )
    }
}

fn is_html(response: &Response) -> bool {
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    content_type.is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"))
}

/// Middleware: `Cache-Control: no-store` on every page and API answer (they show emails, IP
/// addresses and browsers), HSTS on https, and the Content-Security-Policy on every page that
/// does not bring a stricter one of its own.
pub async fn security_headers(State(policy): State<SecurityHeaders>, mut request: Request, next: Next) -> Response {
    let cacheable = is_static_asset(request.uri().path());
    let nonce = CspNonce::generate();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let html = is_html(&response);
    let csp = (html && !response.headers().contains_key(header::CONTENT_SECURITY_POLICY))
        .then(|| HeaderValue::from_str(&policy.content_security_policy(&nonce)).ok())
        .flatten();
    let headers = response.headers_mut();
    if !cacheable {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(hsts) = strict_transport_security(policy.latchkey.config()) {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    if let Some(csp) = csp {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
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

    #[test]
    fn nonces_are_fresh_and_long() {
        let (a, b) = (CspNonce::generate(), CspNonce::generate());
        assert_ne!(a.0, b.0);
        assert_eq!(a.0.len(), 22, "128 bits, base64url");
    }
}
