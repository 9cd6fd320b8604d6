use std::sync::Arc;

use axum_extra::extract::CookieJar;
use sea_orm::DatabaseConnection;

use crate::config::{DEV_PROVIDER_ID, ProviderConfig, ProviderKind, Secret};
use crate::dev_idp::{DevClient, DevIdp};
use crate::login::LoginFlow;
use crate::provider::{self, Providers};
use crate::session::Sessions;
use crate::{AppError, Config, CurrentUser, IdentityView, ProviderSummary, UserView, account, http, storage};

/// The one handle to latchkey's core; cheap to clone.
#[derive(Clone)]
pub struct Latchkey {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    db: DatabaseConnection,
    providers: Providers,
    sessions: Sessions,
    login_flow: LoginFlow,
    dev_idp: Option<DevIdp>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
}

impl Latchkey {
    /// Connects the database (migrating it), and sets up providers and the development
    /// provider. Providers are discovered lazily, so start-up never waits on them.
    pub async fn start(mut config: Config) -> Result<Self, StartupError> {
        let db = storage::connect(&config.database_url).await?;
        let http = provider::http_client(config.provider_timeout)?;
        let dev_idp = config.dev_idp.then(|| {
            let client = DevClient {
                client_id: "latchkey-dev".to_string(),
                client_secret: crate::util::random_token(),
                redirect_uri: config.redirect_uri(DEV_PROVIDER_ID).to_string(),
            };
            let idp = DevIdp::new(config.url("/dev-idp"), client.clone());
            config.providers.insert(
                0,
                ProviderConfig {
                    id: DEV_PROVIDER_ID.to_string(),
                    kind: ProviderKind::Oidc,
                    name: "Dev provider".to_string(),
                    issuer: idp.issuer().clone(),
                    client_id: client.client_id,
                    client_secret: Secret::new(client.client_secret),
                    scopes: vec!["openid".into(), "email".into(), "profile".into()],
                },
            );
            idp
        });
        let providers = Providers::from_config(&config, http, config.jwks_refetch_interval);
        let sessions = Sessions::new(db.clone(), config.sessions);
        let login_flow = LoginFlow::new(db.clone(), providers.clone(), sessions.clone());
        Ok(Latchkey { inner: Arc::new(Inner { config, db, providers, sessions, login_flow, dev_idp }) })
    }

    /// `/auth/*`, `/api/me` and (when enabled) `/dev-idp/*`.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    pub fn dev_idp(&self) -> Option<&DevIdp> {
        self.inner.dev_idp.as_ref()
    }

    pub fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    pub fn login_flow(&self) -> &LoginFlow {
        &self.inner.login_flow
    }

    /// Providers people can sign in with, in configuration order.
    pub fn providers(&self) -> Vec<ProviderSummary> {
        self.inner.providers.summaries()
    }

    /// The signed-in person for this browser's session cookie, if any.
    pub async fn current_user(&self, cookies: &CookieJar) -> Result<Option<CurrentUser>, AppError> {
        let Some(token) = http::session_token(self.config(), cookies) else { return Ok(None) };
        let Some((session, user)) = self.inner.sessions.authenticate(&token).await? else { return Ok(None) };
        let identities = account::identities_of(self.db(), &user.id).await?;
        let signed_in_with = identities
            .iter()
            .find(|identity| Some(&identity.id) == session.identity_id.as_ref())
            .map(|identity| identity.provider_id.clone());
        let summaries = self.providers();
        let identities = identities
            .iter()
            .map(|identity| {
                let provider_name = summaries
                    .iter()
                    .find(|p| p.id == identity.provider_id)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| identity.provider_id.clone());
                IdentityView::new(identity, provider_name)
            })
            .collect();
        Ok(Some(CurrentUser { user: UserView::from(&user), identities, signed_in_with }))
    }

    /// Changes the display name of the signed-in person; returns the name as stored.
    pub async fn update_display_name(&self, cookies: &CookieJar, name: &str) -> Result<String, AppError> {
        let token = http::session_token(self.config(), cookies).ok_or(AppError::Unauthenticated)?;
        let (_, user) = self.inner.sessions.authenticate(&token).await?.ok_or(AppError::Unauthenticated)?;
        let name = account::validate_display_name(name).map_err(AppError::InvalidInput)?;
        let user = account::rename(self.db(), user, name).await?;
        Ok(user.display_name)
    }
}
