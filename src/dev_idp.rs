//! The development identity provider inside the app (Cargo feature `dev-idp`, which
//! `cargo leptos watch --bin-features dev-idp` and the tests turn on; release builds leave
//! it out, so a production binary cannot contain it).
//!
//! `LATCHKEY_DEV_IDP=N` runs N independent providers, like N companies: "dev" at `/dev-idp`,
//! then "dev2" at `/dev-idp2`, and so on. Each is added to the configured providers.

use axum::Router;
use latchkey_dev_idp::{DevClient, DevIdp};
use latchkey_server::Config;
use latchkey_server::config::{DEV_PROVIDER_ID, ProviderConfig, ProviderSettings, Secret};

/// A running development provider and where it is mounted.
#[derive(Clone, Debug)]
pub struct MountedDevIdp {
    pub mount: String,
    pub idp: DevIdp,
}

/// Creates the providers `config` asks for and puts them first among its providers.
pub fn configure(config: &mut Config) -> Vec<MountedDevIdp> {
    (1..=config.dev_idps)
        .map(|n| {
            let (id, name, mount) = if n == 1 {
                (DEV_PROVIDER_ID.to_string(), "Dev provider".to_string(), "/dev-idp".to_string())
            } else {
                (format!("{DEV_PROVIDER_ID}{n}"), format!("Dev provider {n}"), format!("/dev-idp{n}"))
            };
            let client = DevClient::new(format!("latchkey-{id}"), config.redirect_uri(&id).to_string());
            let idp = DevIdp::new(config.url(&mount), client.clone());
            config.providers.insert(
                usize::from(n - 1),
                ProviderConfig {
                    id,
                    settings: ProviderSettings::Oidc,
                    name,
                    issuer: idp.issuer().clone(),
                    client_id: client.client_id,
                    client_secret: Secret::new(client.client_secret),
                    scopes: vec!["openid".into(), "email".into(), "profile".into()],
                    trust_email: config.dev_idp_trusts_email,
                },
            );
            MountedDevIdp { mount, idp }
        })
        .collect()
}

/// Every provider's endpoints at its mount path. The app mounts these outside its
/// same-site guard: the provider stands in for another site, and its pages send
/// `Referrer-Policy: no-referrer`, so browsers post its forms with `Origin: null`.
pub fn router(idps: &[MountedDevIdp]) -> Router {
    idps.iter().fold(Router::new(), |router, mounted| router.nest(&mounted.mount, mounted.idp.router()))
}
