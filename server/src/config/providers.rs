//! Sign-in providers in the configuration: their kinds, settings and validation
//! (`LATCHKEY_PROVIDER_<ID>_*`).

use std::collections::BTreeMap;

use url::Url;

use latchkey_types::ProviderKind;

use super::{Problems, Secret, require_https_unless_loopback};

const DEFAULT_SCOPES: &str = "openid email profile";
const GITHUB_DEFAULT_SCOPES: &str = "read:user user:email";
pub(super) const PROVIDER_PREFIX: &str = "LATCHKEY_PROVIDER_";
const PROVIDER_FIELDS: [&str; 13] = [
    "KIND",
    "ISSUER",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "NAME",
    "SCOPES",
    "TRUST_EMAIL",
    "ALLOWED_DOMAINS",
    "TENANT",
    "ALLOWED_TENANTS",
    "AUTHORIZE_URL",
    "TOKEN_URL",
    "API_URL",
];

/// What kind of provider this is ([`ProviderKind`]), with the settings only that kind has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderSettings {
    /// Any OpenID Connect provider, by its issuer.
    Oidc,
    /// Google: OpenID Connect with Google's issuer quirks and hosted-domain restriction.
    Google(GoogleSettings),
    /// Microsoft Entra ID (work, school and personal Microsoft accounts).
    Microsoft(MicrosoftSettings),
    /// GitHub: OAuth 2.0 without OpenID Connect; identity from its REST API.
    GitHub(GitHubSettings),
}

impl ProviderSettings {
    pub fn kind(&self) -> ProviderKind {
        match self {
            ProviderSettings::Oidc => ProviderKind::Oidc,
            ProviderSettings::Google(_) => ProviderKind::Google,
            ProviderSettings::Microsoft(_) => ProviderKind::Microsoft,
            ProviderSettings::GitHub(_) => ProviderKind::GitHub,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoogleSettings {
    /// `_ALLOWED_DOMAINS`: lower-case Google Workspace domains; the ID token's `hd` claim must be
    /// one of them. Empty: any Google account.
    pub allowed_domains: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MicrosoftSettings {
    /// `_TENANT`: `common`, `organizations`, `consumers`, a tenant id (GUID, lower-case) or a
    /// tenant domain (lower-case).
    pub tenant: String,
    /// `_ALLOWED_TENANTS`: lower-case tenant ids (GUIDs); a token's `tid` must be one of them.
    /// Empty: any tenant the `_TENANT` setting admits.
    pub allowed_tenants: Vec<String>,
    /// The issuer with the tenant's path segment replaced by `{tenantid}`, as Microsoft's
    /// multi-tenant discovery documents spell it: `https://login.microsoftonline.com/{tenantid}/v2.0`.
    pub issuer_template: String,
}

impl MicrosoftSettings {
    /// `common`, `organizations` and `consumers` admit accounts from many tenants.
    pub fn is_multi_tenant(&self) -> bool {
        matches!(self.tenant.as_str(), "common" | "organizations" | "consumers")
    }
    /// The issuer of tokens from tenant `tid`.
    pub fn issuer_for_tenant(&self, tid: &str) -> String {
        self.issuer_template.replace(TENANT_ID_PLACEHOLDER, tid)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubSettings {
    /// `_AUTHORIZE_URL`.
    pub authorize_url: Url,
    /// `_TOKEN_URL`.
    pub token_url: Url,
    /// `_API_URL`, without a trailing slash when serialised by [`GitHubSettings::api`].
    pub api_url: Url,
}

impl GitHubSettings {
    /// `{API_URL}{path}` for a path starting with `/`.
    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_url.as_str().trim_end_matches('/'))
    }
}

/// The placeholder Microsoft's multi-tenant discovery documents use in `issuer`.
pub const TENANT_ID_PLACEHOLDER: &str = "{tenantid}";

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
pub const MICROSOFT_ISSUER: &str = "https://login.microsoftonline.com/{tenant}/v2.0";
pub const GITHUB_AUTHORIZE_URL: &str = "https://github.com/login/oauth/authorize";
pub const GITHUB_TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
pub const GITHUB_API_URL: &str = "https://api.github.com";
/// The issuer recorded for identities from github.com (the default API URL); identities from an
/// overridden API URL (GitHub Enterprise, a test server) are recorded under that URL instead.
pub const GITHUB_ISSUER: &str = "https://github.com";

#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// Lower-case id, the URL segment in `/auth/{id}/…`.
    pub id: String,
    pub settings: ProviderSettings,
    /// Button label.
    pub name: String,
    /// OpenID Connect kinds: the issuer whose discovery document is read (for Microsoft, the
    /// configured tenant's). GitHub: the issuer its identities are recorded under.
    pub issuer: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    /// `_TRUST_EMAIL`: this provider is authoritative for its users' verified emails, so a new
    /// identity whose verified email matches an existing account is linked to it automatically.
    pub trust_email: bool,
}
pub(super) fn parse_providers(values: &BTreeMap<String, String>, p: &mut Problems) -> Vec<ProviderConfig> {
    // Every `LATCHKEY_PROVIDER_<ID>_<FIELD>` names a provider; the ID may itself contain `_`.
    let mut ids: Vec<String> = Vec::new();
    for key in values.keys() {
        let Some(rest) = key.strip_prefix(PROVIDER_PREFIX) else { continue };
        // The longest matching field wins, so no field can swallow part of another.
        let field =
            PROVIDER_FIELDS.iter().filter(|field| rest.ends_with(&format!("_{field}"))).max_by_key(|field| field.len());
        match field.map(|field| &rest[..rest.len() - field.len() - 1]) {
            Some(id) if !id.is_empty() => {
                if !ids.iter().any(|known| known == id) {
                    ids.push(id.to_string());
                }
            }
            _ => p.add(
                key,
                format!(
                    "is not a known provider setting (expected {PROVIDER_PREFIX}<ID>_<{}>)",
                    PROVIDER_FIELDS.join("|")
                ),
            ),
        }
    }
    let mut providers = Vec::new();
    for raw_id in ids {
        let var = |field: &str| format!("{PROVIDER_PREFIX}{raw_id}_{field}");
        let get = |field: &str| values.get(&var(field)).map(|v| v.trim()).filter(|v| !v.is_empty());
        let id = raw_id.to_ascii_lowercase();
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            p.add(&var("KIND"), "the provider id may only use letters, digits and `_`");
            continue;
        }
        let before = p.0.len();
        let kind_name = match get("KIND").map(str::to_ascii_lowercase).as_deref() {
            Some(kind @ ("oidc" | "google" | "microsoft" | "github")) => Some(kind.to_string()),
            Some(other) => {
                p.add(&var("KIND"), format!("must be `oidc`, `google`, `microsoft` or `github`, not `{other}`"));
                None
            }
            None => {
                p.add(&var("KIND"), "is required (`oidc`, `google`, `microsoft` or `github`)");
                None
            }
        };
        // The kind's own settings, and the issuer (for GitHub: the issuer identities are
        // recorded under).
        let (settings, issuer) = match kind_name.as_deref() {
            Some("oidc") => {
                let issuer = match get("ISSUER") {
                    None => {
                        p.add(&var("ISSUER"), "is required");
                        None
                    }
                    Some(text) => provider_url(p, &var("ISSUER"), text),
                };
                (Some(ProviderSettings::Oidc), issuer)
            }
            Some("google") => {
                let issuer = provider_url(p, &var("ISSUER"), get("ISSUER").unwrap_or(GOOGLE_ISSUER));
                let allowed_domains = comma_list(get("ALLOWED_DOMAINS"))
                    .into_iter()
                    .map(|domain| domain.to_ascii_lowercase())
                    .collect::<Vec<_>>();
                if let Some(bad) = allowed_domains.iter().find(|domain| !is_domain(domain)) {
                    p.add(
                        &var("ALLOWED_DOMAINS"),
                        format!("`{bad}` is not a domain name (expected e.g. `example.com,example.org`)"),
                    );
                }
                (Some(ProviderSettings::Google(GoogleSettings { allowed_domains })), issuer)
            }
            Some("microsoft") => {
                let tenant = get("TENANT").unwrap_or("common").to_ascii_lowercase();
                let tenant_ok = matches!(tenant.as_str(), "common" | "organizations" | "consumers")
                    || is_guid(&tenant)
                    || is_domain(&tenant);
                if !tenant_ok {
                    p.add(
                        &var("TENANT"),
                        format!("must be `common`, `organizations`, `consumers`, a tenant id (GUID) or a tenant domain, not `{tenant}`"),
                    );
                }
                let allowed_tenants = comma_list(get("ALLOWED_TENANTS"))
                    .into_iter()
                    .map(|tid| tid.to_ascii_lowercase())
                    .collect::<Vec<_>>();
                if let Some(bad) = allowed_tenants.iter().find(|tid| !is_guid(tid)) {
                    p.add(
                        &var("ALLOWED_TENANTS"),
                        format!("`{bad}` is not a tenant id (expected GUIDs, comma-separated)"),
                    );
                }
                let issuer_text = get("ISSUER").unwrap_or(MICROSOFT_ISSUER).replace("{tenant}", &tenant);
                let issuer = provider_url(p, &var("ISSUER"), &issuer_text);
                let template = issuer.as_ref().filter(|_| tenant_ok).and_then(|issuer| {
                    let template = microsoft_issuer_template(issuer, &tenant);
                    if template.is_none() {
                        p.add(
                            &var("ISSUER"),
                            "must contain the tenant as a path segment (write it as `{tenant}`, like https://login.microsoftonline.com/{tenant}/v2.0)",
                        );
                    }
                    template
                });
                let kind = template.map(|issuer_template| {
                    ProviderSettings::Microsoft(MicrosoftSettings { tenant, allowed_tenants, issuer_template })
                });
                (kind, issuer)
            }
            Some("github") => {
                let authorize_url =
                    provider_url(p, &var("AUTHORIZE_URL"), get("AUTHORIZE_URL").unwrap_or(GITHUB_AUTHORIZE_URL));
                let token_url = provider_url(p, &var("TOKEN_URL"), get("TOKEN_URL").unwrap_or(GITHUB_TOKEN_URL));
                let api_url = provider_url(p, &var("API_URL"), get("API_URL").unwrap_or(GITHUB_API_URL));
                match (authorize_url, token_url, api_url) {
                    (Some(authorize_url), Some(token_url), Some(api_url)) => {
                        let issuer = if api_url.as_str().trim_end_matches('/') == GITHUB_API_URL {
                            Url::parse(GITHUB_ISSUER).ok()
                        } else {
                            Url::parse(api_url.as_str().trim_end_matches('/')).ok()
                        };
                        (Some(ProviderSettings::GitHub(GitHubSettings { authorize_url, token_url, api_url })), issuer)
                    }
                    _ => (None, None),
                }
            }
            _ => (None, None),
        };
        // Settings that belong to another kind are mistakes worth naming.
        if let Some(kind_name) = kind_name.as_deref() {
            let owners: [(&str, &[&str]); 7] = [
                ("ISSUER", &["oidc", "google", "microsoft"]),
                ("ALLOWED_DOMAINS", &["google"]),
                ("TENANT", &["microsoft"]),
                ("ALLOWED_TENANTS", &["microsoft"]),
                ("AUTHORIZE_URL", &["github"]),
                ("TOKEN_URL", &["github"]),
                ("API_URL", &["github"]),
            ];
            for (field, kinds) in owners {
                if get(field).is_some() && !kinds.contains(&kind_name) {
                    p.add(
                        &var(field),
                        format!("does not apply to kind `{kind_name}` (only to `{}`)", kinds.join("`, `")),
                    );
                }
            }
        }
        let client_id = get("CLIENT_ID").map(str::to_string);
        if client_id.is_none() {
            p.add(&var("CLIENT_ID"), "is required");
        }
        let client_secret = get("CLIENT_SECRET").map(Secret::new);
        if client_secret.is_none() {
            p.add(&var("CLIENT_SECRET"), "is required (latchkey is a confidential client)");
        }
        let is_github = kind_name.as_deref() == Some("github");
        let default_scopes = if is_github { GITHUB_DEFAULT_SCOPES } else { DEFAULT_SCOPES };
        let scopes: Vec<String> =
            get("SCOPES").unwrap_or(default_scopes).split_whitespace().map(str::to_string).collect();
        if !is_github && !scopes.iter().any(|s| s == "openid") {
            p.add(&var("SCOPES"), "must include `openid`");
        }
        let trust_email = match get("TRUST_EMAIL").map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                p.add(&var("TRUST_EMAIL"), "must be `true` or `false`");
                false
            }
        };
        if p.0.len() != before {
            continue;
        }
        if let (Some(settings), Some(issuer), Some(client_id), Some(client_secret)) =
            (settings, issuer, client_id, client_secret)
        {
            let default_name = match &settings {
                ProviderSettings::Oidc => raw_id.clone(),
                ProviderSettings::Google(_) => "Google".to_string(),
                ProviderSettings::Microsoft(_) => "Microsoft".to_string(),
                ProviderSettings::GitHub(_) => "GitHub".to_string(),
            };
            let name = get("NAME").map(str::to_string).unwrap_or(default_name);
            providers.push(ProviderConfig {
                id,
                settings,
                name,
                issuer,
                client_id,
                client_secret,
                scopes,
                trust_email,
            });
        }
    }
    providers
}

/// A provider endpoint or issuer: an absolute http(s) URL, https unless on loopback.
fn provider_url(p: &mut Problems, variable: &str, text: &str) -> Option<Url> {
    match Url::parse(text) {
        Err(e) => {
            p.add(variable, format!("is not a valid URL ({e})"));
            None
        }
        Ok(url) if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() => {
            p.add(variable, "must be an http(s) URL with a host");
            None
        }
        Ok(url) if url.query().is_some() || url.fragment().is_some() => {
            p.add(variable, "must not have a query or fragment");
            None
        }
        Ok(url) => match require_https_unless_loopback(&url) {
            Ok(()) => Some(url),
            Err(message) => {
                p.add(variable, message);
                None
            }
        },
    }
}

/// `a, b ,c` → `["a", "b", "c"]`; empty items are dropped.
fn comma_list(value: Option<&str>) -> Vec<String> {
    value.unwrap_or_default().split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect()
}

/// A DNS name with at least two labels: `example.com`, `contoso.onmicrosoft.com`.
fn is_domain(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A GUID in its usual 8-4-4-4-12 hexadecimal form (the shape of Microsoft tenant ids).
pub(crate) fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The Microsoft issuer with its tenant path segment replaced by `{tenantid}`, or `None` when
/// the tenant is not one of its path segments.
fn microsoft_issuer_template(issuer: &Url, tenant: &str) -> Option<String> {
    let segments: Vec<&str> = issuer.path_segments()?.collect();
    let position = segments.iter().position(|segment| segment.eq_ignore_ascii_case(tenant))?;
    let path = segments
        .iter()
        .enumerate()
        .map(|(i, segment)| if i == position { TENANT_ID_PLACEHOLDER } else { segment })
        .collect::<Vec<_>>()
        .join("/");
    Some(format!("{}/{path}", &issuer[..url::Position::BeforePath]).trim_end_matches('/').to_string())
}
