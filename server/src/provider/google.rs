//! Google's rules on top of OpenID Connect: its two spellings of the issuer, the hosted
//! domain (`hd`) restriction, and when to ask for offline access.

use crate::config::GoogleSettings;

/// The scopes that need nothing beyond sign-in.
const SIGN_IN_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// Google's ID tokens say `iss` is `https://accounts.google.com` or `accounts.google.com`
/// (OpenID Connect Core 15.6.2): the second spelling of `issuer` is the URL without its scheme.
pub(super) fn issuer_alias(issuer: &str) -> Option<&str> {
    issuer.strip_prefix("https://").or_else(|| issuer.strip_prefix("http://")).filter(|rest| !rest.is_empty())
}

/// With `_ALLOWED_DOMAINS`, the account must belong to one of those Google Workspace domains,
/// as the ID token's `hd` claim says. (The `hd` authorization parameter is only a hint to
/// Google's account chooser: anyone can remove it from the URL.)
pub(super) fn check_hosted_domain(settings: &GoogleSettings, hd: Option<&str>) -> Result<(), String> {
    if settings.allowed_domains.is_empty() {
        return Ok(());
    }
    match hd {
        Some(hd) if settings.allowed_domains.iter().any(|allowed| allowed.eq_ignore_ascii_case(hd)) => Ok(()),
        Some(hd) => Err(format!("the account belongs to the domain `{hd}`, which is not allowed to sign in here")),
        None => Err("the account is not part of an allowed Google Workspace domain (no `hd` claim)".into()),
    }
}

/// Extra authorization parameters: the `hd` hint, and offline access (a refresh token) only
/// when the configured scopes ask for more than signing in.
pub(super) fn authorize_params(settings: &GoogleSettings, scopes: &[String]) -> Vec<(&'static str, String)> {
    let mut params = Vec::new();
    match settings.allowed_domains.as_slice() {
        [] => {}
        [domain] => params.push(("hd", domain.clone())),
        // Several domains: narrow the chooser to Workspace accounts; the server decides.
        _ => params.push(("hd", "*".to_string())),
    }
    if wants_offline_access(scopes) {
        params.push(("access_type", "offline".to_string()));
        params.push(("prompt", "consent".to_string()));
    }
    params
}

fn wants_offline_access(scopes: &[String]) -> bool {
    scopes.iter().any(|scope| !SIGN_IN_SCOPES.contains(&scope.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(domains: &[&str]) -> GoogleSettings {
        GoogleSettings { allowed_domains: domains.iter().map(|d| d.to_string()).collect() }
    }

    #[test]
    fn the_alias_is_the_issuer_without_its_scheme() {
        assert_eq!(issuer_alias("https://accounts.google.com"), Some("accounts.google.com"));
        assert_eq!(issuer_alias("http://127.0.0.1:4000"), Some("127.0.0.1:4000"));
        assert_eq!(issuer_alias("https://"), None);
    }

    #[test]
    fn hosted_domains_are_enforced_only_when_configured() {
        assert!(check_hosted_domain(&settings(&[]), None).is_ok());
        assert!(check_hosted_domain(&settings(&["example.com"]), Some("Example.com")).is_ok());
        assert!(check_hosted_domain(&settings(&["example.com"]), Some("evil.com")).is_err());
        assert!(check_hosted_domain(&settings(&["example.com"]), None).is_err());
    }

    #[test]
    fn offline_access_only_beyond_sign_in_scopes() {
        let sign_in: Vec<String> = ["openid", "email", "profile"].map(String::from).to_vec();
        assert!(authorize_params(&settings(&[]), &sign_in).is_empty());
        let mut more = sign_in.clone();
        more.push("https://www.googleapis.com/auth/calendar.readonly".into());
        let params = authorize_params(&settings(&["example.com"]), &more);
        assert_eq!(
            params,
            [
                ("hd", "example.com".to_string()),
                ("access_type", "offline".to_string()),
                ("prompt", "consent".to_string())
            ]
        );
    }
}
