//! Microsoft Entra ID's rules on top of OpenID Connect.
//!
//! Multi-tenant endpoints (`common`, `organizations`) publish one discovery document for every
//! tenant, whose `issuer` is the template `https://login.microsoftonline.com/{tenantid}/v2.0`:
//! each token's `iss` must then be that template filled with the token's own `tid`. An account
//! is identified by `(tid, oid)` — never by `sub` alone, never by `email` or
//! `preferred_username`, which tenant administrators can set to anything ("nOAuth").

use crate::config::{MicrosoftSettings, TENANT_ID_PLACEHOLDER, is_guid};

/// Which tenants' tokens this provider's discovery document vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Tenancy {
    /// Multi-tenant: `iss` = the template with the token's `tid`.
    AnyTenant,
    /// One tenant (a tenant id, a tenant domain, or `consumers`): `iss` is this issuer, `tid` this id.
    OneTenant { issuer: String, tid: String },
}

/// The discovery document's `issuer` must be the template (multi-tenant settings only) or the
/// template filled with one tenant id (which must be the configured one, if that is an id).
pub(super) fn tenancy(settings: &MicrosoftSettings, discovered_issuer: &str) -> Result<Tenancy, String> {
    if discovered_issuer == settings.issuer_template {
        return if settings.is_multi_tenant() {
            Ok(Tenancy::AnyTenant)
        } else {
            Err(format!(
                "the discovery document names every tenant (`{discovered_issuer}`), but tenant `{}` is configured",
                settings.tenant
            ))
        };
    }
    match tenant_of_issuer(settings, discovered_issuer) {
        Some(tid) if is_guid(&settings.tenant) && tid != settings.tenant => Err(format!(
            "the discovery document is tenant `{tid}`'s (`{discovered_issuer}`), but tenant `{}` is configured",
            settings.tenant
        )),
        Some(tid) => Ok(Tenancy::OneTenant { issuer: discovered_issuer.to_string(), tid }),
        None => Err(format!(
            "unexpected issuer `{discovered_issuer}` (expected `{}`, or it with a tenant id)",
            settings.issuer_template
        )),
    }
}

/// The (lower-case) tenant id in an issuer of the template's shape.
pub(super) fn tenant_of_issuer(settings: &MicrosoftSettings, issuer: &str) -> Option<String> {
    let (prefix, suffix) = settings.issuer_template.split_once(TENANT_ID_PLACEHOLDER)?;
    let tid = issuer.strip_prefix(prefix)?.strip_suffix(suffix)?.to_ascii_lowercase();
    is_guid(&tid).then_some(tid)
}

/// The tenant is one `_ALLOWED_TENANTS` admits (all, when it is empty).
pub(super) fn tenant_allowed(settings: &MicrosoftSettings, tid: &str) -> bool {
    settings.allowed_tenants.is_empty()
        || settings.allowed_tenants.iter().any(|allowed| allowed.eq_ignore_ascii_case(tid))
}

/// RFC 9207 `iss` authorization response parameter: an issuer this provider accepts tokens from.
pub(super) fn accepts_iss_parameter(settings: &MicrosoftSettings, tenancy: &Tenancy, iss: &str) -> bool {
    match tenancy {
        Tenancy::AnyTenant => tenant_of_issuer(settings, iss).is_some_and(|tid| tenant_allowed(settings, &tid)),
        Tenancy::OneTenant { issuer, .. } => iss == issuer,
    }
}

/// Checks a verified ID token's `iss` against its `tid` and the tenant rules, and returns the
/// identity key: `(issuer of the token's tenant, oid)`.
pub(super) fn identity_key(
    settings: &MicrosoftSettings,
    tenancy: &Tenancy,
    iss: &str,
    tid: Option<&str>,
    oid: Option<&str>,
) -> Result<(String, String), String> {
    let tid = tid.filter(|tid| !tid.is_empty()).ok_or("it has no `tid` (tenant id) claim")?;
    if !is_guid(tid) {
        return Err(format!("its `tid` (`{tid}`) is not a tenant id"));
    }
    let expected_issuer = match tenancy {
        Tenancy::AnyTenant => settings.issuer_for_tenant(tid),
        Tenancy::OneTenant { issuer, tid: only } => {
            if !tid.eq_ignore_ascii_case(only) {
                return Err(format!("it comes from tenant `{tid}`, not from the configured tenant `{only}`"));
            }
            issuer.clone()
        }
    };
    if iss != expected_issuer {
        return Err(format!("its issuer `{iss}` is not tenant `{tid}`'s issuer `{expected_issuer}`"));
    }
    if !tenant_allowed(settings, tid) {
        return Err(format!("tenant `{tid}` is not allowed to sign in here"));
    }
    let oid = oid
        .filter(|oid| !oid.is_empty())
        .ok_or("it has no `oid` (object id) claim; is the `profile` scope requested?")?;
    if oid.len() > 128 || oid.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("its `oid` claim is malformed".into());
    }
    Ok((expected_issuer, oid.to_string()))
}

/// Microsoft does not verify the `email` claim for everyone (a tenant administrator can set it
/// to any address): it counts as verified only when the token says so — the `xms_edov`
/// ("email domain owner verified") optional claim, or an `email_verified` claim.
pub(super) fn email_verified(xms_edov: Option<&serde_json::Value>, email_verified: Option<bool>) -> bool {
    let edov = match xms_edov {
        Some(serde_json::Value::Bool(value)) => *value,
        Some(serde_json::Value::String(value)) => value == "1" || value.eq_ignore_ascii_case("true"),
        Some(serde_json::Value::Number(value)) => value.as_u64() == Some(1),
        _ => false,
    };
    edov || email_verified == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT_A: &str = "11111111-1111-1111-1111-111111111111";
    const TENANT_B: &str = "22222222-2222-2222-2222-222222222222";
    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

    fn settings(tenant: &str, allowed: &[&str]) -> MicrosoftSettings {
        MicrosoftSettings {
            tenant: tenant.to_string(),
            allowed_tenants: allowed.iter().map(|t| t.to_string()).collect(),
            issuer_template: TEMPLATE.to_string(),
        }
    }

    fn issuer(tid: &str) -> String {
        TEMPLATE.replace("{tenantid}", tid)
    }

    #[test]
    fn the_template_is_accepted_for_multi_tenant_settings_only() {
        assert_eq!(tenancy(&settings("common", &[]), TEMPLATE), Ok(Tenancy::AnyTenant));
        assert_eq!(tenancy(&settings("organizations", &[]), TEMPLATE), Ok(Tenancy::AnyTenant));
        assert!(tenancy(&settings(TENANT_A, &[]), TEMPLATE).is_err());
        assert!(tenancy(&settings("contoso.com", &[]), TEMPLATE).is_err());
    }

    #[test]
    fn a_single_tenant_discovery_pins_the_tenant() {
        let pinned = Tenancy::OneTenant { issuer: issuer(TENANT_A), tid: TENANT_A.to_string() };
        assert_eq!(tenancy(&settings(TENANT_A, &[]), &issuer(TENANT_A)), Ok(pinned.clone()));
        assert_eq!(tenancy(&settings("contoso.com", &[]), &issuer(TENANT_A)), Ok(pinned));
        assert!(tenancy(&settings(TENANT_B, &[]), &issuer(TENANT_A)).is_err());
        assert!(tenancy(&settings("common", &[]), "https://evil.example/{tenantid}/v2.0").is_err());
        assert!(tenancy(&settings("common", &[]), "https://login.microsoftonline.com/common/v2.0").is_err());
    }

    #[test]
    fn the_identity_is_the_tokens_tenant_and_object_id() {
        let s = settings("common", &[]);
        assert_eq!(
            identity_key(&s, &Tenancy::AnyTenant, &issuer(TENANT_B), Some(TENANT_B), Some("oid-1")),
            Ok((issuer(TENANT_B), "oid-1".to_string()))
        );
        // Tenant A's issuer on a token that says it is from tenant B.
        assert!(identity_key(&s, &Tenancy::AnyTenant, &issuer(TENANT_A), Some(TENANT_B), Some("oid-1")).is_err());
        assert!(identity_key(&s, &Tenancy::AnyTenant, &issuer(TENANT_B), None, Some("oid-1")).is_err());
        assert!(identity_key(&s, &Tenancy::AnyTenant, &issuer(TENANT_B), Some(TENANT_B), None).is_err());
        assert!(identity_key(&s, &Tenancy::AnyTenant, "https://x/../v2.0", Some("../x"), Some("o")).is_err());
    }

    #[test]
    fn allowed_tenants_are_enforced() {
        let s = settings("organizations", &[TENANT_A]);
        assert!(identity_key(&s, &Tenancy::AnyTenant, &issuer(TENANT_A), Some(TENANT_A), Some("o")).is_ok());
        assert!(identity_key(&s, &Tenancy::AnyTenant, &issuer(TENANT_B), Some(TENANT_B), Some("o")).is_err());
        assert!(accepts_iss_parameter(&s, &Tenancy::AnyTenant, &issuer(TENANT_A)));
        assert!(!accepts_iss_parameter(&s, &Tenancy::AnyTenant, &issuer(TENANT_B)));
        assert!(!accepts_iss_parameter(&s, &Tenancy::AnyTenant, TEMPLATE));
    }

    #[test]
    fn emails_are_unverified_unless_the_token_says_otherwise() {
        use serde_json::json;
        assert!(!email_verified(None, None));
        assert!(!email_verified(Some(&json!(false)), Some(false)));
        assert!(email_verified(Some(&json!(true)), None));
        assert!(email_verified(Some(&json!("1")), None));
        assert!(email_verified(None, Some(true)));
    }
}
