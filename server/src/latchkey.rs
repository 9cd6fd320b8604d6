//! [`Latchkey`]: the one handle to the core, built once at start-up. Construction and
//! accessors only; the work is in the services it hands out.

use std::sync::Arc;

use latchkey_types::ProviderSummary;

use crate::Config;
use crate::access_tokens::AccessTokens;
use crate::account::Accounts;
use crate::activity::ActivityLog;
use crate::admin::Admins;
use crate::login::LoginFlow;
use crate::provider::{self, Providers};
use crate::session::Sessions;
use crate::storage::Database;
use crate::sweeper::Sweeper;
use crate::tokens::{TokenCipher, Tokens};

/// The one handle to latchkey's core; cheap to clone.
#[derive(Clone)]
pub struct Latchkey {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    db: Database,
    providers: Providers,
    sessions: Sessions,
    login_flow: LoginFlow,
    accounts: Accounts,
    activity: ActivityLog,
    tokens: Tokens,
    access_tokens: AccessTokens,
    admins: Admins,
    sweeper: Sweeper,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error(
        "LATCHKEY_DEV_IDP asks for the development provider, but this binary was built without it (see the README's development command)"
    )]
    DevIdpNotBuilt,
}

impl Latchkey {
    /// Connects the database (migrating it), sets up the configured providers and starts the
    /// background sweeper. Providers are discovered lazily, so start-up never waits on them.
    pub async fn start(config: Config) -> Result<Self, StartupError> {
        let db = Database::connect(config.database_url.expose()).await?;
        let http = provider::ProviderHttp::new(config.provider_timeout)?;
        let providers = Providers::from_config(&config, http, config.jwks_refetch_interval);
        let cipher = Arc::new(TokenCipher::new(&config.secret_key, &config.previous_secret_keys));
        let sessions = Sessions::new(db.clone(), config.sessions, providers.clone(), cipher.clone());
        let tokens = Tokens::new(db.clone(), cipher.clone(), providers.clone());
        let sweeper = Sweeper::new(db.clone(), cipher.clone(), config.sessions, config.activity_retention);
        sweeper.clone().spawn();
        crate::metrics::spawn_sampler(db.clone());
        let access_tokens =
            AccessTokens::new(db.clone(), cipher.clone(), config.access_tokens.clone(), config.issuer());
        let login_flow = LoginFlow::new(db.clone(), providers.clone(), sessions.clone(), cipher);
        let accounts = Accounts::new(db.clone(), providers.clone(), tokens.clone());
        let activity = ActivityLog::new(db.clone(), providers.clone());
        let admins = Admins::new(
            db.clone(),
            config.admins.clone(),
            providers.clone(),
            sessions.clone(),
            accounts.clone(),
            activity.clone(),
        );
        Ok(Latchkey {
            inner: Arc::new(Inner {
                config,
                db,
                providers,
                sessions,
                login_flow,
                accounts,
                activity,
                tokens,
                access_tokens,
                admins,
                sweeper,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    /// Issuing, authenticating, listing and ending sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// Signing in and linking through a provider.
    pub fn login_flow(&self) -> &LoginFlow {
        &self.inner.login_flow
    }

    /// The signed-in person's account: profile, identities, deletion.
    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    /// The security activity log.
    pub fn activity(&self) -> &ActivityLog {
        &self.inner.activity
    }

    /// The provider tokens held for identities.
    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    /// Who is an admin, and what admins do to other accounts.
    pub fn admins(&self) -> &Admins {
        &self.inner.admins
    }

    /// latchkey's own access tokens (`POST /api/token`, Bearer on `/api/me`, the JWKS).
    pub fn access_tokens(&self) -> &AccessTokens {
        &self.inner.access_tokens
    }

    /// The background housekeeping (also run on demand, by tests).
    pub fn sweeper(&self) -> &Sweeper {
        &self.inner.sweeper
    }

    /// The configured providers.
    pub fn provider_list(&self) -> &Providers {
        &self.inner.providers
    }

    /// Providers people can sign in with, in configuration order.
    pub fn providers(&self) -> Vec<ProviderSummary> {
        self.inner.providers.summaries()
    }
}
