//! Identity providers: the configured list, and the OpenID Connect client each one uses.

mod oidc;

use std::sync::Arc;
use std::time::Duration;

pub use oidc::{AuthorizationRequest, OidcProvider, ProviderError, VerifiedIdentity};

use crate::config::Config;

/// A provider as the sign-in page shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProviderSummary {
    /// URL segment: `/auth/{id}/login`.
    pub id: String,
    /// Button label, e.g. "Google".
    pub name: String,
    /// `oidc`, `google`, `microsoft`, `github`.
    pub kind: String,
}

/// The configured providers, in configuration order.
#[derive(Clone)]
pub struct Providers {
    list: Vec<Arc<OidcProvider>>,
}

impl Providers {
    pub fn from_config(config: &Config, http: reqwest::Client, jwks_refetch_interval: Duration) -> Self {
        let list = config
            .providers
            .iter()
            .map(|provider| {
                Arc::new(OidcProvider::new(
                    provider.clone(),
                    config.redirect_uri(&provider.id),
                    http.clone(),
                    jwks_refetch_interval,
                ))
            })
            .collect();
        Providers { list }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<OidcProvider>> {
        self.list.iter().find(|provider| provider.id() == id)
    }

    pub fn summaries(&self) -> Vec<ProviderSummary> {
        self.list
            .iter()
            .map(|provider| ProviderSummary {
                id: provider.id().to_string(),
                name: provider.name().to_string(),
                kind: provider.kind().to_string(),
            })
            .collect()
    }
}

/// The HTTP client for talking to providers: every call has a timeout, and redirects are
/// not followed (a provider endpoint that redirects is misconfigured, and following
/// redirects from server-side requests invites SSRF).
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
}
