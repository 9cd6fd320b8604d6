//! Every path latchkey serves, in one place: pages, the sign-in protocol and the JSON API
//! (the UI's server functions name their own, under `/api/`). Builders percent-encode what
//! they put in a path, so an id can never change the route.
//!
//! The `*_TEMPLATE` constants are the same routes in axum's `{name}` syntax.

use crate::ProviderId;

pub const HOME: &str = "/";
pub const PROFILE: &str = "/profile";
pub const ACCOUNTS: &str = "/accounts";
pub const SESSIONS: &str = "/sessions";
pub const ACTIVITY: &str = "/activity";
/// The signed-in person's own pages (inside the account layout): the edge loads the person
/// before one of them renders.
pub const ACCOUNT_PAGES: [&str; 4] = [PROFILE, ACCOUNTS, SESSIONS, ACTIVITY];
/// The admin's list of accounts (search and pages in the query); anyone else gets a 404.
pub const ADMIN_USERS: &str = "/admin/users";
/// One account, for an admin (`admin_user` builds it); anyone else gets a 404.
pub const ADMIN_USER_TEMPLATE: &str = "/admin/users/{id}";

/// The signed-in person as JSON (with the session cookie, or an access token as `Bearer`).
pub const API_ME: &str = "/api/me";
/// `POST`: an access token for the signed-in session.
pub const API_TOKEN: &str = "/api/token";
/// The public keys that check latchkey's access tokens.
pub const JWKS: &str = "/.well-known/jwks.json";
/// `200` while the process serves (no database call): for liveness probes.
pub const HEALTHZ: &str = "/healthz";
/// `200` when the database answers and no shutdown has begun, else `503`: for readiness probes.
pub const READYZ: &str = "/readyz";
/// `POST`: ends this browser's session; with the form field `from_provider=1`, then sends the
/// browser to sign out at the session's provider too.
pub const LOGOUT: &str = "/auth/logout";
/// The form field of [`LOGOUT`] that asks to sign out at the provider too (value `1`).
pub const FROM_PROVIDER_FIELD: &str = "from_provider";

pub const LOGIN_TEMPLATE: &str = "/auth/{provider}/login";
pub const CALLBACK_TEMPLATE: &str = "/auth/{provider}/callback";
pub const LINK_TEMPLATE: &str = "/auth/{provider}/link";
/// Where a provider posts its back-channel logout tokens (server to server).
pub const BACKCHANNEL_LOGOUT_TEMPLATE: &str = "/auth/{provider}/backchannel-logout";
/// Where a provider sends the browser back after signing the person out there too (the
/// `post_logout_redirect_uri` of RP-Initiated Logout 1.0).
pub const LOGGED_OUT_TEMPLATE: &str = "/auth/{provider}/logged-out";

/// Why an action on `page` did not happen, as its page reads it back from the query (the UI
/// words it): `{page}?form={form}&problem={problem}`.
pub fn refused(page: &str, form: &str, problem: &str) -> String {
    format!("{page}?form={}&problem={}", encode_component(form), encode_component(problem))
}

/// The reasons the core itself sends back in a page's query (see [`refused`]).
pub mod problem {
    /// The change needs a sign-in within the last few minutes.
    pub const RECENT_SIGN_IN_NEEDED: &str = "recent_sign_in_needed";
}

/// `GET`: starts signing in with `provider`; afterwards the browser lands on `return_to`
/// (a path on this site).
pub fn login(provider: &ProviderId, return_to: &str) -> String {
    format!("/auth/{}/login?return_to={}", encode_component(provider.as_str()), encode_query_value(return_to))
}

/// `GET`: starts signing in with `provider`; afterwards the browser lands where a sign-in
/// lands by default.
pub fn login_default(provider: &ProviderId) -> String {
    format!("/auth/{}/login", encode_component(provider.as_str()))
}

/// Where `provider` sends the browser back after a sign-in (the redirect URI's path).
pub fn callback(provider: &ProviderId) -> String {
    format!("/auth/{}/callback", encode_component(provider.as_str()))
}

/// Where `provider` sends the browser back after signing the person out there too.
pub fn logged_out(provider: &ProviderId) -> String {
    format!("/auth/{}/logged-out", encode_component(provider.as_str()))
}

/// How far a sign-out reached, as the home page reads it back from its query
/// (`/?signed_out={how}&provider={id}`) to say so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedOut {
    /// Signed out here and at the provider, which sent the browser back.
    AtProviderToo,
    /// Signed out here; the provider offers no way to sign out from here.
    ProviderCannot,
    /// Signed out here; the provider could not be reached to sign out there.
    ProviderUnreachable,
}

impl SignedOut {
    const ALL: [SignedOut; 3] = [SignedOut::AtProviderToo, SignedOut::ProviderCannot, SignedOut::ProviderUnreachable];

    fn query_value(self) -> &'static str {
        match self {
            SignedOut::AtProviderToo => "at_provider_too",
            SignedOut::ProviderCannot => "provider_cannot",
            SignedOut::ProviderUnreachable => "provider_unreachable",
        }
    }

    /// The note a query value names, if any.
    pub fn from_query(value: &str) -> Option<SignedOut> {
        SignedOut::ALL.into_iter().find(|note| note.query_value() == value)
    }
}

/// The home page after a sign-out that asked the provider too, saying how far it reached.
pub fn signed_out(how: SignedOut, provider: &ProviderId) -> String {
    format!("{HOME}?signed_out={}&provider={}", how.query_value(), encode_component(provider.as_str()))
}

/// `POST`: starts linking an identity of `provider` to the signed-in account.
pub fn link(provider: &ProviderId) -> String {
    format!("/auth/{}/link", encode_component(provider.as_str()))
}

/// An admin's page of one account.
pub fn admin_user(user: &crate::UserId) -> String {
    format!("{ADMIN_USERS}/{}", encode_component(user.as_str()))
}

/// The admin's list of accounts matching `query`, page `page` (zero-based; shown one-based).
pub fn admin_users(query: &str, page: u64) -> String {
    format!("{ADMIN_USERS}?q={}&page={}", encode_component(query), page.saturating_add(1))
}

/// The activity log's page `page` (zero-based; shown one-based).
pub fn activity_page(page: u64) -> String {
    format!("{ACTIVITY}?page={}", page.saturating_add(1))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode_component(value: &str) -> String {
    encode(value, |_| false)
}

/// Like [`encode_component`], but leaves `/` alone (a path given as a query value).
pub fn encode_query_value(value: &str) -> String {
    encode(value, |byte| byte == b'/')
}

fn encode(value: &str, also_keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ if also_keep(byte) => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_encode_what_they_put_in_a_path() {
        assert_eq!(encode_component("a b/é?&"), "a%20b%2F%C3%A9%3F%26");
        assert_eq!(login(&ProviderId::new("corp sso"), ACCOUNTS), "/auth/corp%20sso/login?return_to=/accounts");
        assert_eq!(
            login(&ProviderId::new("google"), "/profile?tab=1"),
            "/auth/google/login?return_to=/profile%3Ftab%3D1"
        );
        assert_eq!(link(&ProviderId::new("corp-sso")), "/auth/corp-sso/link");
        assert_eq!(activity_page(0), "/activity?page=1");
    }

    #[test]
    fn every_sign_out_note_reads_back_from_its_query() {
        for note in SignedOut::ALL {
            let url = signed_out(note, &ProviderId::new("corp sso"));
            let query = url.strip_prefix("/?signed_out=").expect("the home page");
            let (value, provider) = query.split_once("&provider=").expect("the provider");
            assert_eq!(SignedOut::from_query(value), Some(note));
            assert_eq!(provider, "corp%20sso");
        }
        assert_eq!(SignedOut::from_query("anything else"), None);
    }

    #[test]
    fn templates_match_the_builders() {
        let fill = |template: &str, value: &str| template.replace("{provider}", value);
        assert_eq!(fill(CALLBACK_TEMPLATE, "p"), callback(&ProviderId::new("p")));
        assert_eq!(fill(LINK_TEMPLATE, "p"), link(&ProviderId::new("p")));
        assert_eq!(fill(LOGGED_OUT_TEMPLATE, "p"), logged_out(&ProviderId::new("p")));
        assert!(login(&ProviderId::new("p"), HOME).starts_with(&fill(LOGIN_TEMPLATE, "p")));
        assert_eq!(fill(LOGIN_TEMPLATE, "p"), login_default(&ProviderId::new("p")));
        assert_eq!(ADMIN_USER_TEMPLATE.replace("{id}", "u"), admin_user(&crate::UserId::new("u")));
    }
}
