//! The system under test: a release latchkey in its own process with a fresh database, and an
//! OpenID Connect provider out of that process (latchkey's development provider, served by
//! this program) — or a latchkey that is already running.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_dev_idp::{DevClient, DevIdp};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use url::Url;

use crate::browser::Browser;

/// The provider id the started server knows the benchmark's provider by.
const PROVIDER_ID: &str = "bench";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// How to start the server.
pub struct Launch<'a> {
    pub server_bin: &'a Path,
    pub site_root: &'a Path,
    pub database: DatabaseKind,
    pub postgres_admin_url: &'a str,
}

pub struct Target {
    pub base: Url,
    pub provider: String,
    /// The server's process, for CPU time and memory; `None` when not known.
    pub pid: Option<u32>,
    child: Option<Child>,
    log: Option<PathBuf>,
    postgres: Option<(DatabaseConnection, String)>,
    _data_dir: Option<tempfile::TempDir>,
}

impl Target {
    /// A latchkey someone else started (its provider must be latchkey's development provider).
    pub fn running(base: Url, provider: String, pid: Option<u32>) -> Target {
        Target { base, provider, pid, child: None, log: None, postgres: None, _data_dir: None }
    }

    /// Starts the provider (in this process) and the server (in its own), and waits until the
    /// server answers.
    pub async fn launch(launch: Launch<'_>, http: &reqwest::Client) -> Result<Target, String> {
        let server_addr = free_port()?;
        let base = Url::parse(&format!("http://{server_addr}")).map_err(|e| e.to_string())?;
        let issuer = serve_provider(&base).await?;
        let data_dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
        let (database_url, postgres) = match launch.database {
            DatabaseKind::Sqlite => {
                (format!("sqlite://{}?mode=rwc", data_dir.path().join("latchkey.db").display()), None)
            }
            DatabaseKind::Postgres => {
                let (url, admin, name) = fresh_postgres_database(launch.postgres_admin_url).await?;
                (url, Some((admin, name)))
            }
        };
        let log = data_dir.path().join("server.log");
        let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let prefix = format!("LATCHKEY_PROVIDER_{}", PROVIDER_ID.to_uppercase());
        let child = Command::new(launch.server_bin)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .env("LEPTOS_SITE_ADDR", server_addr.to_string())
            .env("LEPTOS_SITE_ROOT", launch.site_root)
            .env("LATCHKEY_PUBLIC_URL", base.as_str().trim_end_matches('/'))
            .env("LATCHKEY_DATABASE_URL", &database_url)
            .env("LATCHKEY_DATA_DIR", data_dir.path())
            // Every simulated browser is 127.0.0.1: per-address limits would refuse the load.
            .env("LATCHKEY_RATE_LIMIT_SIGN_INS_PER_MINUTE", "1000000000")
            .env("LATCHKEY_RATE_LIMIT_CALLBACKS_PER_MINUTE", "1000000000")
            .env("LATCHKEY_RATE_LIMIT_API_PER_MINUTE", "1000000000")
            .env(format!("{prefix}_KIND"), "oidc")
            .env(format!("{prefix}_NAME"), "Benchmark provider")
            .env(format!("{prefix}_ISSUER"), issuer.client_issuer.as_str())
            .env(format!("{prefix}_CLIENT_ID"), &issuer.client.client_id)
            .env(format!("{prefix}_CLIENT_SECRET"), &issuer.client.client_secret)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
            .stderr(log_file)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e} (build it first: cargo leptos build --release)",
                    launch.server_bin.display()
                )
            })?;
        let mut target = Target {
            base,
            provider: PROVIDER_ID.to_string(),
            pid: Some(child.id()),
            child: Some(child),
            log: Some(log),
            postgres,
            _data_dir: Some(data_dir),
        };
        if let Err(error) = target.wait_until_ready(http).await {
            let log = target.log_tail();
            target.stop().await;
            return Err(format!("{error}\n--- the server's log ---\n{log}"));
        }
        Ok(target)
    }

    async fn wait_until_ready(&mut self, http: &reqwest::Client) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("the server exited at start-up ({status})"));
            }
            let home = Browser::new(http).get(&self.base).await;
            if home.is_ok_and(|page| page.status.is_success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("the server did not answer within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines the server logged (empty for a server this program did not start).
    pub fn log_tail(&self) -> String {
        let Some(log) = &self.log else { return String::new() };
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the server and drops its PostgreSQL database.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some((admin, name)) = self.postgres.take() {
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
            let _ = admin.close().await;
        }
    }
}

struct ProviderEndpoint {
    /// The issuer as the server is told it.
    client_issuer: Url,
    client: DevClient,
}

/// Serves latchkey's development provider from this process at `http://127.0.0.1:<port>/idp`,
/// with one client: the server at `base`.
async fn serve_provider(base: &Url) -> Result<ProviderEndpoint, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind the provider: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let issuer = Url::parse(&format!("http://{addr}/idp")).map_err(|e| e.to_string())?;
    let client = DevClient::new(
        "latchkey-bench".into(),
        format!("{}/auth/{PROVIDER_ID}/callback", base.as_str().trim_end_matches('/')),
    );
    let idp = DevIdp::new(issuer.clone(), client.clone());
    let router = axum::Router::new().nest("/idp", idp.router());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(ProviderEndpoint { client_issuer: issuer, client })
}

fn free_port() -> Result<SocketAddr, String> {
    let listener = StdListener::bind("127.0.0.1:0").map_err(|e| format!("find a free port: {e}"))?;
    listener.local_addr().map_err(|e| e.to_string())
}

async fn fresh_postgres_database(admin_url: &str) -> Result<(String, DatabaseConnection, String), String> {
    let mut options = sea_orm::ConnectOptions::new(admin_url.to_string());
    options.connect_timeout(Duration::from_secs(3)).max_connections(1).sqlx_logging(false);
    let admin = sea_orm::Database::connect(options).await.map_err(|e| format!("PostgreSQL at {admin_url}: {e}"))?;
    let name = format!("latchkey_bench_{}_{}", chrono::Utc::now().timestamp(), uuid::Uuid::new_v4().simple());
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.map_err(|e| format!("create {name}: {e}"))?;
    let mut url = Url::parse(admin_url).map_err(|e| format!("{admin_url}: {e}"))?;
    url.set_path(&format!("/{name}"));
    Ok((url.to_string(), admin, name))
}
