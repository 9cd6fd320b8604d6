//! One typed configuration, read from the environment and optionally `latchkey.toml`,
//! validated once at start-up.
//!
//! Every source is first flattened into the public variable names
//! (`LATCHKEY_PUBLIC_URL`, `LATCHKEY_PROVIDER_<ID>_ISSUER`, …) so there is one
//! validation path and every message names the variable a person would set.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

mod providers;

pub use providers::*;
use providers::{PROVIDER_PREFIX, parse_providers};

/// Where the app runs; production refuses unsafe settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub environment: Environment,
    /// `LEPTOS_SITE_ADDR`: where the server listens.
    pub listen_addr: SocketAddr,
    /// `LATCHKEY_PUBLIC_URL`: the external base URL, without a trailing slash.
    pub public_url: Url,
    /// `LATCHKEY_DATABASE_URL`: may carry a password, so `Debug` never shows it.
    pub database_url: Secret,
    /// `LATCHKEY_DATA_DIR`: the SQLite file and the generated development key live here.
    pub data_dir: PathBuf,
    pub secret_key: SecretKey,
    /// `LATCHKEY_PREVIOUS_SECRET_KEYS`: keys replaced by a rotation, which still open what they
    /// sealed (until it is sealed again under the current key).
    pub previous_secret_keys: Vec<SecretKey>,
    pub providers: Vec<ProviderConfig>,
    /// `LATCHKEY_DEV_IDP`: how many built-in development identity providers to mount
    /// (`true` = 1 at `/dev-idp`; `2` adds a second, independent one at `/dev-idp2`, for
    /// trying account linking locally).
    pub dev_idps: u8,
    /// Whether the development providers' verified emails link accounts automatically
    /// (their `_TRUST_EMAIL`); off unless a test turns it on.
    pub dev_idp_trusts_email: bool,
    pub sessions: SessionSettings,
    /// `LATCHKEY_ACTIVITY_RETENTION_DAYS`: how long the activity log keeps an event.
    pub activity_retention: Duration,
    /// Timeout of every call to a provider.
    pub provider_timeout: Duration,
    /// `LATCHKEY_METRICS_ADDR`: where the Prometheus metrics are served (a listener of their
    /// own, never the public one); unset: not served.
    pub metrics_addr: Option<SocketAddr>,
    /// `LATCHKEY_SHUTDOWN_GRACE_SECONDS`: how long requests in flight may take to finish
    /// once a shutdown begins.
    pub shutdown_grace: Duration,
    /// Minimum time between JWKS refetches caused by an unknown key id.
    pub jwks_refetch_interval: Duration,
    pub rate_limits: RateLimitSettings,
    /// `LATCHKEY_TRUSTED_PROXIES`: the reverse proxies whose `X-Forwarded-For` names the client.
    /// Empty: the client is the TCP peer, whatever the header says.
    pub trusted_proxies: Vec<IpNet>,
    pub inbound: InboundSettings,
    pub access_tokens: AccessTokenSettings,
    /// `LATCHKEY_ADMINS`: emails (lower-cased) whose owners are admins, when verified by a
    /// provider for one of their identities.
    pub admins: Vec<String>,
    /// `LATCHKEY_*` variables (or `latchkey.toml` keys) that are no setting, misspelt most
    /// likely: reported at start-up, otherwise ignored.
    pub unrecognized: Vec<String>,
}

/// The top-level settings; `LATCHKEY_PROVIDER_*` are checked with the providers.
const SETTINGS: [&str; 25] = [
    "LATCHKEY_ENV",
    "LATCHKEY_PUBLIC_URL",
    "LATCHKEY_DATABASE_URL",
    "LATCHKEY_DATA_DIR",
    "LATCHKEY_SECRET_KEY",
    "LATCHKEY_PREVIOUS_SECRET_KEYS",
    "LATCHKEY_DEV_IDP",
    "LATCHKEY_SESSION_IDLE_MINUTES",
    "LATCHKEY_SESSION_MAX_HOURS",
    "LATCHKEY_ACTIVITY_RETENTION_DAYS",
    "LATCHKEY_IDP_TIMEOUT_SECONDS",
    "LATCHKEY_SHUTDOWN_GRACE_SECONDS",
    "LATCHKEY_METRICS_ADDR",
    // Read by the binary before the configuration (logging starts first).
    "LATCHKEY_LOG_FORMAT",
    "LATCHKEY_CONFIG_FILE",
    "LATCHKEY_RATE_LIMIT_SIGN_INS_PER_MINUTE",
    "LATCHKEY_RATE_LIMIT_CALLBACKS_PER_MINUTE",
    "LATCHKEY_RATE_LIMIT_API_PER_MINUTE",
    "LATCHKEY_TRUSTED_PROXIES",
    "LATCHKEY_REQUEST_TIMEOUT_SECONDS",
    "LATCHKEY_MAX_CONCURRENT_REQUESTS",
    "LATCHKEY_TOKEN_AUDIENCE",
    "LATCHKEY_TOKEN_MINUTES",
    "LATCHKEY_TOKEN_KEY_ROTATION_DAYS",
    "LATCHKEY_ADMINS",
];

/// Variables of latchkey's own tooling (tests, setup, benchmark), which are no settings.
const TOOLING: [&str; 6] =
    ["LATCHKEY_TEST_", "LATCHKEY_SETUP_", "LATCHKEY_E2E_", "LATCHKEY_BENCH_", "LATCHKEY_BIN", "LATCHKEY_CHROMIUM"];

/// The `LATCHKEY_*` names among `values` that are neither a setting nor tooling.
fn unrecognized(values: &BTreeMap<String, String>) -> Vec<String> {
    values
        .keys()
        .filter(|name| name.starts_with("LATCHKEY_") && !name.starts_with(PROVIDER_PREFIX))
        .filter(|name| !SETTINGS.contains(&name.as_str()) && !TOOLING.iter().any(|tool| name.starts_with(tool)))
        .cloned()
        .collect()
}

#[derive(Clone, Copy, Debug)]
pub struct SessionSettings {
    /// A session unused for this long ends (`LATCHKEY_SESSION_IDLE_MINUTES`).
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not (`LATCHKEY_SESSION_MAX_HOURS`).
    pub absolute_timeout: Duration,
}

/// What one request may take of the server (see `http::inbound`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboundSettings {
    /// A request unanswered for this long gets `503` (`LATCHKEY_REQUEST_TIMEOUT_SECONDS`, 30).
    pub request_timeout: Duration,
    /// Requests in flight beyond this many are refused at once with `503`
    /// (`LATCHKEY_MAX_CONCURRENT_REQUESTS`, 512).
    pub max_concurrent_requests: usize,
}

/// The app's own access tokens (`POST /api/token`, see `access_tokens`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessTokenSettings {
    /// `aud` of every token (`LATCHKEY_TOKEN_AUDIENCE`; default: the public URL).
    pub audience: String,
    /// How long a token is valid (`LATCHKEY_TOKEN_MINUTES`: 10 by default, at most 15).
    pub lifetime: Duration,
    /// How long one signing key signs before the next takes over
    /// (`LATCHKEY_TOKEN_KEY_ROTATION_DAYS`, 30).
    pub key_rotation: Duration,
}

/// The longest an access token may live: it cannot be revoked before it expires.
pub const MAX_ACCESS_TOKEN_MINUTES: u64 = 15;
/// The longest one key may sign access tokens.
const MAX_TOKEN_KEY_ROTATION_DAYS: u64 = 365;

/// How many requests one client address may make per minute, by kind; each allows a burst of
/// that many at once. Generous: an office behind one NAT address never meets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Sign-in and link starts (`LATCHKEY_RATE_LIMIT_SIGN_INS_PER_MINUTE`).
    pub sign_ins_per_minute: NonZeroU32,
    /// Returns from providers (`LATCHKEY_RATE_LIMIT_CALLBACKS_PER_MINUTE`).
    pub callbacks_per_minute: NonZeroU32,
    /// `/api/*`: the UI's server functions and the JSON API (`LATCHKEY_RATE_LIMIT_API_PER_MINUTE`).
    pub api_per_minute: NonZeroU32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            sign_ins_per_minute: NonZeroU32::new(120).unwrap_or(NonZeroU32::MIN),
            callbacks_per_minute: NonZeroU32::new(120).unwrap_or(NonZeroU32::MIN),
            api_per_minute: NonZeroU32::new(1200).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// A string that never shows up in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// `LATCHKEY_SECRET_KEY`: 32 bytes, the root of the app's own encryption keys.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(SecretKey(bytes.try_into().ok()?))
    }
    pub fn generate() -> Self {
        SecretKey(crate::util::random_bytes())
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// One thing wrong with the configuration, named by its variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    pub variable: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration is not valid:")?;
        for problem in &self.problems {
            writeln!(f, "  - {}: {}", problem.variable, problem.message)?;
        }
        Ok(())
    }
}

/// The id of the built-in development provider (`/auth/dev/…`); reserved.
pub const DEV_PROVIDER_ID: &str = "dev";

const DEFAULT_SITE_ADDR: &str = "127.0.0.1:3000";

impl Config {
    /// Reads `latchkey.toml` (or the file named by `LATCHKEY_CONFIG_FILE`) when present, then the
    /// environment, which wins. Creates the data directory and, in development only, a secret key.
    pub fn load() -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let mut values = BTreeMap::new();
        let file = env.get("LATCHKEY_CONFIG_FILE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("latchkey.toml"));
        let explicit = env.contains_key("LATCHKEY_CONFIG_FILE");
        if explicit || file.exists() {
            values.extend(read_toml_file(&file)?);
        }
        values.extend(env.into_iter().filter(|(k, _)| k.starts_with("LATCHKEY_") || k.starts_with("LEPTOS_SITE_ADDR")));
        let mut config = Self::from_values(&values)?;
        for name in &config.unrecognized {
            tracing::warn!(
                variable = %name,
                settings = %SETTINGS.join(", "),
                "not a latchkey setting (misspelt?): ignored"
            );
        }
        config.ensure_data_dir_and_key(values.contains_key("LATCHKEY_SECRET_KEY"))?;
        Ok(config)
    }

    /// Validates a flat map of variables. Pure: touches no file, so tests use it directly.
    /// Without `LATCHKEY_SECRET_KEY` a development config gets a fresh random key.
    pub fn from_values<K: AsRef<str>, V: AsRef<str>>(
        values: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError> {
        let values: BTreeMap<String, String> =
            values.into_iter().map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string())).collect();
        let mut p = Problems::default();
        let get = |name: &str| values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        let environment = match get("LATCHKEY_ENV").map(str::to_ascii_lowercase).as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                p.add("LATCHKEY_ENV", format!("must be `development` or `production`, not `{other}`"));
                Environment::Development
            }
        };

        let listen_addr = match get("LEPTOS_SITE_ADDR").unwrap_or(DEFAULT_SITE_ADDR).parse::<SocketAddr>() {
            Ok(addr) => addr,
            Err(_) => {
                p.add("LEPTOS_SITE_ADDR", "must be an address with a port, like 127.0.0.1:3000");
                DEFAULT_SITE_ADDR.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 3000)))
            }
        };

        let public_url_text =
            get("LATCHKEY_PUBLIC_URL").map(str::to_string).unwrap_or_else(|| format!("http://{listen_addr}"));
        let public_url = match parse_base_url(&public_url_text) {
            Ok(url) => {
                if environment == Environment::Production && url.scheme() != "https" {
                    p.add("LATCHKEY_PUBLIC_URL", "must be an https URL in production");
                } else if let Err(message) = require_https_unless_loopback(&url) {
                    p.add("LATCHKEY_PUBLIC_URL", message);
                }
                // Fail closed: a forgotten LATCHKEY_ENV must not put development behaviour (the
                // development provider, a generated key) on a public address.
                if environment == Environment::Development && !is_loopback(&url) {
                    p.add(
                        "LATCHKEY_ENV",
                        format!(
                            "is development (the default), which serves only on a loopback address, and \
                             LATCHKEY_PUBLIC_URL {url} is not one: set LATCHKEY_ENV=production"
                        ),
                    );
                }
                Some(url)
            }
            Err(message) => {
                p.add("LATCHKEY_PUBLIC_URL", message);
                None
            }
        };

        let data_dir = PathBuf::from(get("LATCHKEY_DATA_DIR").unwrap_or("data"));
        let database_url = Secret::new(match get("LATCHKEY_DATABASE_URL") {
            Some(url)
                if url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://") =>
            {
                url.to_string()
            }
            Some(_) => {
                p.add("LATCHKEY_DATABASE_URL", "must start with `sqlite:` or `postgres://`");
                String::new()
            }
            None => format!("sqlite://{}?mode=rwc", data_dir.join("latchkey.db").display()),
        });

        let secret_key = match get("LATCHKEY_SECRET_KEY") {
            Some(text) => SecretKey::from_hex(text).unwrap_or_else(|| {
                p.add(
                    "LATCHKEY_SECRET_KEY",
                    "must be 64 hexadecimal characters (32 bytes); `openssl rand -hex 32` makes one",
                );
                SecretKey::generate()
            }),
            None => {
                if environment == Environment::Production {
                    p.add("LATCHKEY_SECRET_KEY", "is required in production (64 hexadecimal characters)");
                }
                SecretKey::generate()
            }
        };

        let mut previous_secret_keys = Vec::new();
        for (position, text) in
            get("LATCHKEY_PREVIOUS_SECRET_KEYS").unwrap_or_default().split(',').map(str::trim).enumerate()
        {
            match SecretKey::from_hex(text) {
                _ if text.is_empty() => {}
                Some(key) => previous_secret_keys.push(key),
                None => p.add(
                    "LATCHKEY_PREVIOUS_SECRET_KEYS",
                    format!("key {} must be 64 hexadecimal characters (keys are separated by commas)", position + 1),
                ),
            }
        }

        let dev_idps = match get("LATCHKEY_DEV_IDP").map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") | Some("0") | Some("no") => 0,
            Some("true") | Some("1") | Some("yes") => 1,
            Some("2") => 2,
            Some(_) => {
                p.add("LATCHKEY_DEV_IDP", "must be `true`, `false` or `2`");
                0
            }
        };
        let dev_idp = dev_idps > 0;
        if dev_idp && environment == Environment::Production {
            p.add("LATCHKEY_DEV_IDP", "the development identity provider cannot run in production");
        }

        // Spans are read in their unit and saturate: no number a person types can overflow.
        let mut span = |variable: &str, unit_seconds: u64, default: u64| {
            Duration::from_secs(unit_seconds.saturating_mul(positive_number(&mut p, get(variable), variable, default)))
        };
        let sessions = SessionSettings {
            idle_timeout: span("LATCHKEY_SESSION_IDLE_MINUTES", 60, 60 * 24 * 7),
            absolute_timeout: span("LATCHKEY_SESSION_MAX_HOURS", 3600, 24 * 30),
        };
        let provider_timeout = span("LATCHKEY_IDP_TIMEOUT_SECONDS", 1, 10);
        let shutdown_grace = span("LATCHKEY_SHUTDOWN_GRACE_SECONDS", 1, 20);
        let request_timeout = span("LATCHKEY_REQUEST_TIMEOUT_SECONDS", 1, 30);
        let activity_retention = span("LATCHKEY_ACTIVITY_RETENTION_DAYS", 24 * 3600, 365);
        let metrics_addr = get("LATCHKEY_METRICS_ADDR").and_then(|text| match text.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                p.add("LATCHKEY_METRICS_ADDR", "must be an address with a port, like 127.0.0.1:9100");
                None
            }
        });

        let defaults = RateLimitSettings::default();
        let mut per_minute = |variable: &str, default: NonZeroU32| {
            let n = positive_number(&mut p, get(variable), variable, u64::from(default.get()));
            // A number past u32 means "practically unlimited": that is what it gets.
            NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or(default)
        };
        let rate_limits = RateLimitSettings {
            sign_ins_per_minute: per_minute("LATCHKEY_RATE_LIMIT_SIGN_INS_PER_MINUTE", defaults.sign_ins_per_minute),
            callbacks_per_minute: per_minute("LATCHKEY_RATE_LIMIT_CALLBACKS_PER_MINUTE", defaults.callbacks_per_minute),
            api_per_minute: per_minute("LATCHKEY_RATE_LIMIT_API_PER_MINUTE", defaults.api_per_minute),
        };
        let trusted_proxies = parse_trusted_proxies(&mut p, get("LATCHKEY_TRUSTED_PROXIES"));
        let max_concurrent_requests =
            positive_number(&mut p, get("LATCHKEY_MAX_CONCURRENT_REQUESTS"), "LATCHKEY_MAX_CONCURRENT_REQUESTS", 512);
        let inbound = InboundSettings {
            request_timeout,
            max_concurrent_requests: usize::try_from(max_concurrent_requests).unwrap_or(usize::MAX),
        };

        let token_minutes = positive_number(&mut p, get("LATCHKEY_TOKEN_MINUTES"), "LATCHKEY_TOKEN_MINUTES", 10);
        if token_minutes > MAX_ACCESS_TOKEN_MINUTES {
            p.add(
                "LATCHKEY_TOKEN_MINUTES",
                format!(
                    "must be at most {MAX_ACCESS_TOKEN_MINUTES}: an access token cannot be revoked before it expires"
                ),
            );
        }
        let token_rotation_days =
            positive_number(&mut p, get("LATCHKEY_TOKEN_KEY_ROTATION_DAYS"), "LATCHKEY_TOKEN_KEY_ROTATION_DAYS", 30);
        if token_rotation_days > MAX_TOKEN_KEY_ROTATION_DAYS {
            p.add(
                "LATCHKEY_TOKEN_KEY_ROTATION_DAYS",
                format!("must be at most {MAX_TOKEN_KEY_ROTATION_DAYS}: a signing key should not sign for years"),
            );
        }
        // Blank, like every setting, counts as unset: the public URL.
        let token_audience = get("LATCHKEY_TOKEN_AUDIENCE").map(str::to_string);

        let mut admins = Vec::new();
        for email in get("LATCHKEY_ADMINS").unwrap_or_default().split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match email.split_once('@') {
                Some((local, domain))
                    if !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace) =>
                {
                    admins.push(email.to_lowercase())
                }
                _ => p.add("LATCHKEY_ADMINS", format!("`{email}` is not an email address (separate them with commas)")),
            }
        }

        let providers = parse_providers(&values, &mut p);
        if dev_idp && providers.iter().any(|provider| provider.id.starts_with(DEV_PROVIDER_ID)) {
            p.add(
                &format!("{PROVIDER_PREFIX}DEV_KIND"),
                "provider ids starting with `dev` are reserved for the development identity providers",
            );
        }

        match (public_url, p.0.is_empty()) {
            (Some(public_url), true) => Ok(Config {
                admins,
                access_tokens: AccessTokenSettings {
                    audience: token_audience.unwrap_or_else(|| issuer_of(&public_url)),
                    lifetime: Duration::from_secs(60 * token_minutes.min(MAX_ACCESS_TOKEN_MINUTES)),
                    key_rotation: Duration::from_secs(24 * 3600 * token_rotation_days.min(MAX_TOKEN_KEY_ROTATION_DAYS)),
                },
                environment,
                listen_addr,
                public_url,
                database_url,
                data_dir,
                secret_key,
                previous_secret_keys,
                providers,
                dev_idps,
                dev_idp_trusts_email: false,
                sessions,
                activity_retention,
                provider_timeout,
                shutdown_grace,
                metrics_addr,
                jwks_refetch_interval: Duration::from_secs(10),
                rate_limits,
                trusted_proxies,
                inbound,
                unrecognized: unrecognized(&values),
            }),
            _ => Err(ConfigError { problems: p.0 }),
        }
    }

    /// The redirect URI registered at a provider: `{PUBLIC_URL}/auth/{id}/callback`.
    pub fn redirect_uri(&self, provider_id: &str) -> Url {
        self.url(&latchkey_types::routes::callback(&latchkey_types::ProviderId::new(provider_id)))
    }

    /// The public URL as the `iss` of latchkey's own tokens: as configured, without a
    /// trailing slash.
    pub fn issuer(&self) -> String {
        issuer_of(&self.public_url)
    }

    /// Where a provider sends the browser back after signing the person out there too (the
    /// `post_logout_redirect_uri` to register with it).
    pub fn post_logout_redirect_uri(&self, provider_id: &str) -> Url {
        self.url(&latchkey_types::routes::logged_out(&latchkey_types::ProviderId::new(provider_id)))
    }

    /// An absolute URL on this site for a path starting with `/`.
    pub fn url(&self, path: &str) -> Url {
        let base = self.public_url.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}")).unwrap_or_else(|_| self.public_url.clone())
    }

    /// Cookies get `Secure` and the `__Host-` prefix when the site is served over https.
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    fn ensure_data_dir_and_key(&mut self, key_was_given: bool) -> Result<(), ConfigError> {
        let problem = |message: String| ConfigError {
            problems: vec![ConfigProblem { variable: "LATCHKEY_DATA_DIR".into(), message }],
        };
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| problem(format!("cannot create {}: {e}", self.data_dir.display())))?;
        if !key_was_given {
            self.secret_key = load_or_create_dev_key(&self.data_dir.join("secret_key")).map_err(problem)?;
        }
        Ok(())
    }
}

/// Development only: keep one generated key in the data directory so restarts keep working.
fn load_or_create_dev_key(path: &Path) -> Result<SecretKey, String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return SecretKey::from_hex(&text)
            .ok_or_else(|| format!("{} does not hold 64 hexadecimal characters", path.display()));
    }
    let key = SecretKey::generate();
    write_private_file(path, &hex::encode(key.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a development secret key");
    Ok(key)
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

#[derive(Default)]
struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn add(&mut self, variable: &str, message: impl Into<String>) {
        self.0.push(ConfigProblem { variable: variable.to_string(), message: message.into() });
    }
}

fn positive_number(p: &mut Problems, value: Option<&str>, variable: &str, default: u64) -> u64 {
    match value.map(str::parse::<u64>) {
        None => default,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            p.add(variable, "must be a whole number greater than zero");
            default
        }
    }
}

/// `LATCHKEY_TRUSTED_PROXIES`: comma-separated CIDRs (`10.0.0.0/8`) or single addresses.
fn parse_trusted_proxies(p: &mut Problems, value: Option<&str>) -> Vec<IpNet> {
    let mut proxies = Vec::new();
    for entry in value.unwrap_or_default().split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
        match entry.parse::<IpNet>().or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from)) {
            Ok(net) => proxies.push(net.trunc()),
            Err(_) => p.add(
                "LATCHKEY_TRUSTED_PROXIES",
                format!("`{entry}` is not an address or a CIDR range (like 10.0.0.0/8 or fd00::/8)"),
            ),
        }
    }
    proxies
}

fn issuer_of(public_url: &Url) -> String {
    public_url.as_str().trim_end_matches('/').to_string()
}

fn parse_base_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim_end_matches('/')).map_err(|e| format!("is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http(s) URL with a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(url)
}

fn require_https_unless_loopback(url: &Url) -> Result<(), String> {
    if url.scheme() == "https" || is_loopback(url) {
        Ok(())
    } else {
        Err("must use https (http is accepted only for localhost and 127.0.0.1)".into())
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost" || domain.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Flattens `latchkey.toml` into variable names: `public_url = …` becomes `LATCHKEY_PUBLIC_URL`,
/// `[provider.google] client_id = …` becomes `LATCHKEY_PROVIDER_GOOGLE_CLIENT_ID`,
/// and `site_addr` becomes `LEPTOS_SITE_ADDR`.
fn read_toml_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let problem = |message: String| ConfigError {
        problems: vec![ConfigProblem { variable: "LATCHKEY_CONFIG_FILE".into(), message }],
    };
    let text = std::fs::read_to_string(path).map_err(|e| problem(format!("cannot read {}: {e}", path.display())))?;
    flatten_toml(&text).map_err(|message| problem(format!("{}: {message}", path.display())))
}

pub(crate) fn flatten_toml(text: &str) -> Result<BTreeMap<String, String>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.message().to_string())?;
    let mut out = BTreeMap::new();
    for (key, value) in table {
        if key == "provider" {
            let toml::Value::Table(providers) = value else {
                return Err("`provider` must be a table of providers, like [provider.google]".into());
            };
            for (id, settings) in providers {
                let toml::Value::Table(settings) = settings else {
                    return Err(format!("[provider.{id}] must be a table"));
                };
                for (field, value) in settings {
                    out.insert(
                        format!("{PROVIDER_PREFIX}{}_{}", id.to_ascii_uppercase(), field.to_ascii_uppercase()),
                        toml_scalar(&value)
                            .ok_or_else(|| format!("provider.{id}.{field} must be a string, number or boolean"))?,
                    );
                }
            }
        } else {
            let name = if key == "site_addr" {
                "LEPTOS_SITE_ADDR".to_string()
            } else {
                format!("LATCHKEY_{}", key.to_ascii_uppercase())
            };
            out.insert(name, toml_scalar(&value).ok_or_else(|| format!("{key} must be a string, number or boolean"))?);
        }
    }
    Ok(out)
}

fn toml_scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
