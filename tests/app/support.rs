//! The test harness: a whole latchkey on a random port with a fresh database, and a
//! scripted browser that signs in through the built-in development provider.

use std::sync::Arc;
use std::time::Duration;

use latchkey::Application;
use latchkey::latchkey_dev_idp::{DevIdp, Misbehaviour};
use latchkey::latchkey_server::session::Session;
use latchkey::latchkey_server::storage::Writer;
use latchkey::latchkey_server::storage::entities::{identity, pending_login, session, user};
use latchkey::latchkey_server::types::{ActivityPage, Me};
use latchkey::latchkey_server::{Config, Latchkey};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait};
use url::Url;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per database backend: always SQLite, and PostgreSQL when one is
/// reachable (`LATCHKEY_TEST_POSTGRES_URL`, or the local default). A PostgreSQL run that
/// cannot happen says so on stderr past the test harness's capture (`.ci/test` counts these
/// lines), and fails under `CI=true`, where PostgreSQL must be there.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        $crate::on_every_backend!(with Default::default(); $($name),*);
    };
    (with $options:expr; $($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::support::{Backend, TestApp};
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(TestApp::spawn_with(Backend::Sqlite, $options).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match TestApp::try_spawn(Backend::Postgres, $options).await {
                    Some(app) => super::$name(app).await,
                    None => $crate::support::skip_postgres(concat!(module_path!(), "::postgres")),
                }
            }
        }
    )*};
}

/// Reports a PostgreSQL test that could not run (see [`on_every_backend`]).
pub fn skip_postgres(test: &str) {
    use std::io::Write as _;
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{test}: PostgreSQL is not reachable, and CI needs it");
    // Straight to stderr: the harness captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED (PostgreSQL not reachable): {test}");
}

/// The apps' `LATCHKEY_SECRET_KEY`: fixed in tests, so two instances share it.
pub const TEST_SECRET_KEY: &str = "5eb63bbbe01eeed093cb22bb8f5acdc35eb63bbbe01eeed093cb22bb8f5acdc3";

/// One test app at a time in this process. Two Leptos apps rendering at once on two tokio
/// runtimes in one process (as parallel tests are) now and then stall a server-side render
/// until the client gives up; one app under load never does (`stress_the_account_pages`:
/// 8 browsers, 2,400 page loads). Production runs one app per process.
static ONE_APP: std::sync::LazyLock<Arc<tokio::sync::Mutex<()>>> = std::sync::LazyLock::new(Arc::default);

/// Waits for this process's turn to run an app (see [`ONE_APP`]); the turn lasts as long as
/// the guard.
pub async fn one_app_at_a_time() -> tokio::sync::OwnedMutexGuard<()> {
    // Other tests' apps come and go in seconds; waiting longer means this test holds one.
    tokio::time::timeout(Duration::from_secs(300), ONE_APP.clone().lock_owned())
        .await
        .expect("a turn to run an app: does this test start a second app while its first still runs?")
}

/// What the tests' browsers say they are.
pub const USER_AGENT: &str = "latchkey-tests/1";

/// Knobs for a test app.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub jwks_refetch_interval: Option<Duration>,
    /// The development providers' verified emails link accounts automatically.
    pub dev_idp_trusts_email: bool,
    /// More settings (`LATCHKEY_*` variables), after the test defaults.
    pub settings: Vec<(&'static str, String)>,
}

pub struct TestApp {
    pub base: Url,
    pub latchkey: Latchkey,
    pub db: Writer,
    pub database_url: String,
    /// "dev" and "dev2".
    pub dev_idps: Vec<DevIdp>,
    _data_dir: tempfile::TempDir,
    _one_app_at_a_time: tokio::sync::OwnedMutexGuard<()>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, options: Options) -> TestApp {
        Self::try_spawn(backend, options).await.expect("the database for this test is reachable")
    }

    pub async fn try_spawn(backend: Backend, options: Options) -> Option<TestApp> {
        if std::env::var_os("TEST_LOG").is_some() {
            // `TEST_LOG=1 cargo test …` shows the app's logs of failing tests.
            let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("info").try_init();
        }
        let one_app_at_a_time = one_app_at_a_time().await;
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}?mode=rwc", data_dir.path().join("latchkey.db").display()),
            Backend::Postgres => fresh_postgres_database().await?,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let mut settings = vec![
            ("LEPTOS_SITE_ADDR", address.to_string()),
            ("LATCHKEY_PUBLIC_URL", format!("http://{address}")),
            ("LATCHKEY_DATABASE_URL", database_url.clone()),
            ("LATCHKEY_DATA_DIR", data_dir.path().display().to_string()),
            // Fixed, so that a second instance (`second_instance`) opens the same sealed tokens.
            ("LATCHKEY_SECRET_KEY", TEST_SECRET_KEY.to_string()),
            // Two independent development providers: "dev" and "dev2".
            ("LATCHKEY_DEV_IDP", "2".to_string()),
            ("LATCHKEY_IDP_TIMEOUT_SECONDS", "2".to_string()),
        ];
        settings.extend(options.settings);
        let mut config = Config::from_values(settings).expect("the test configuration is valid");
        config.dev_idp_trusts_email = options.dev_idp_trusts_email;
        if let Some(interval) = options.jwks_refetch_interval {
            config.jwks_refetch_interval = interval;
        }
        let application = Application::build(config).await.expect("the app starts");
        let latchkey = application.latchkey().clone();
        let dev_idps = application.dev_idps().iter().map(|mounted| mounted.idp.clone()).collect();
        tokio::spawn(application.serve(listener));
        let db = latchkey.db().writes().clone();
        let base = Url::parse(&format!("http://{address}")).ok()?;
        Some(TestApp {
            base,
            latchkey,
            db,
            database_url,
            dev_idps,
            _data_dir: data_dir,
            _one_app_at_a_time: one_app_at_a_time,
        })
    }

    /// Another latchkey on this one's database with the same secret key, as a second server
    /// behind a load balancer: its "dev" provider is this app's development provider.
    pub async fn second_instance(&self) -> Latchkey {
        self.instance_with(&[]).await
    }

    /// Like [`TestApp::second_instance`], with some settings changed (a rotated key, say).
    pub async fn instance_with(&self, changes: &[(&'static str, String)]) -> Latchkey {
        let dev = self.latchkey.config().providers.iter().find(|p| p.id == "dev").expect("the dev provider");
        let mut settings = vec![
            ("LATCHKEY_PUBLIC_URL", self.base.as_str().trim_end_matches('/').to_string()),
            ("LATCHKEY_DATABASE_URL", self.database_url.clone()),
            ("LATCHKEY_SECRET_KEY", TEST_SECRET_KEY.to_string()),
            ("LATCHKEY_PROVIDER_DEV_KIND", "oidc".to_string()),
            ("LATCHKEY_PROVIDER_DEV_ISSUER", dev.issuer.to_string()),
            ("LATCHKEY_PROVIDER_DEV_CLIENT_ID", dev.client_id.clone()),
            ("LATCHKEY_PROVIDER_DEV_CLIENT_SECRET", dev.client_secret.expose().to_string()),
            ("LATCHKEY_IDP_TIMEOUT_SECONDS", "2".to_string()),
        ];
        // Later values of a name win.
        settings.extend(changes.iter().cloned());
        let config = Config::from_values(settings).expect("the other instance's configuration is valid");
        Latchkey::start(config).await.expect("the other instance starts")
    }

    /// A connection of the test's own to the app's database, outside the app's pools.
    pub async fn outside_connection(&self) -> DatabaseConnection {
        Database::connect(self.database_url.as_str()).await.expect("a connection of the test's own")
    }

    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("a valid path")
    }

    /// The live session of a signed-in browser, as the core's services take it.
    pub async fn session(&self, browser: &Browser) -> Session {
        let token = browser.cookie("latchkey_session").expect("the browser holds a session cookie");
        self.latchkey.sessions().authenticate(&token).await.expect("query").expect("a live session")
    }

    /// The signed-in person behind a browser, as the pages show them.
    pub async fn me(&self, browser: &Browser) -> Me {
        self.latchkey.accounts().me(&self.session(browser).await).await.expect("query")
    }

    /// A page (zero-based) of the activity log of the person behind a browser.
    pub async fn activity(&self, browser: &Browser, page: u64) -> ActivityPage {
        self.latchkey.activity().page(&self.session(browser).await, page).await.expect("query")
    }

    pub fn dev_idp(&self) -> &DevIdp {
        self.dev_idps.first().expect("tests run with the development provider")
    }

    pub fn misbehave(&self, misbehaviour: Misbehaviour) {
        self.dev_idp().set_misbehaviour(misbehaviour);
    }

    /// A new browser: its own cookie jar, redirects not followed so each step is visible.
    pub fn browser(&self) -> Browser {
        self.browser_sending(reqwest::header::HeaderMap::new())
    }

    /// A new browser whose every request carries `headers` (as a proxy in front would add).
    pub fn browser_sending(&self, headers: reqwest::header::HeaderMap) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("an HTTP client");
        Browser { client, jar, base: self.base.clone() }
    }

    pub async fn users(&self) -> u64 {
        user::Entity::find().count(&self.db).await.expect("count users")
    }
    pub async fn identities(&self) -> u64 {
        identity::Entity::find().count(&self.db).await.expect("count identities")
    }
    pub async fn sessions(&self) -> u64 {
        session::Entity::find().count(&self.db).await.expect("count sessions")
    }
    pub async fn pending_logins(&self) -> u64 {
        pending_login::Entity::find().count(&self.db).await.expect("count pending logins")
    }

    /// Asserts that nothing of a sign-in was written.
    pub async fn assert_nobody_signed_in(&self) {
        assert_eq!(self.users().await, 0, "no user was created");
        assert_eq!(self.identities().await, 0, "no identity was created");
        assert_eq!(self.sessions().await, 0, "no session was created");
    }

    pub async fn execute(&self, sql: &str) {
        self.db.execute_unprepared(sql).await.expect("the statement runs");
    }
}

/// A person as typed into the development provider's form.
#[derive(Clone, Debug)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub email_verified: bool,
}

impl Person {
    pub fn new(name: &str, email: &str) -> Person {
        Person { name: name.to_string(), email: email.to_string(), email_verified: true }
    }
    pub fn ada() -> Person {
        Person::new("Ada Lovelace", "ada@example.test")
    }
    pub fn grace() -> Person {
        Person::new("Grace Hopper", "grace@example.test")
    }
}

#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: Url,
}

impl Browser {
    /// A request from this browser (its cookies), to finish and send.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.base.join(path).expect("a valid URL"))
    }

    pub async fn get(&self, path_or_url: &str) -> reqwest::Response {
        let url = self.base.join(path_or_url).expect("a valid URL");
        self.client.get(url).send().await.expect("the request completes")
    }

    /// `GET /auth/dev/login`; returns the provider URL the app redirected to.
    pub async fn start_sign_in(&self, return_to: Option<&str>) -> Url {
        self.start_sign_in_with("dev", return_to).await
    }

    pub async fn start_sign_in_with(&self, provider: &str, return_to: Option<&str>) -> Url {
        let mut url = self.base.join(&format!("/auth/{provider}/login")).expect("a valid URL");
        if let Some(return_to) = return_to {
            url.query_pairs_mut().append_pair("return_to", return_to);
        }
        let response = self.client.get(url).send().await.expect("the login request completes");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in starts with a redirect to the provider");
        location(&response)
    }

    /// At the provider: opens the authorize page and submits the form with `decision`;
    /// returns the callback URL the provider redirected to.
    pub async fn decide_at_provider(&self, authorize_url: &Url, person: &Person, decision: &str) -> Url {
        let page = self.client.get(authorize_url.clone()).send().await.expect("the authorize page loads");
        assert_eq!(page.status(), StatusCode::OK, "the provider shows its sign-in page");
        let mut form: Vec<(String, String)> = authorize_url.query_pairs().into_owned().collect();
        form.push(("name".into(), person.name.clone()));
        form.push(("email".into(), person.email.clone()));
        if person.email_verified {
            form.push(("email_verified".into(), "true".into()));
        }
        form.push(("decision".into(), decision.into()));
        let mut action = authorize_url.clone();
        action.set_query(None);
        let response = self.client.post(action).form(&form).send().await.expect("the provider answers");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "the provider redirects back");
        location(&response)
    }

    pub async fn follow(&self, url: &Url) -> reqwest::Response {
        self.client.get(url.clone()).send().await.expect("the request completes")
    }

    /// The whole flow; returns the callback's response.
    pub async fn sign_in_as(&self, person: &Person) -> reqwest::Response {
        let authorize = self.start_sign_in(None).await;
        let callback = self.decide_at_provider(&authorize, person, "allow").await;
        self.follow(&callback).await
    }

    pub async fn sign_in_with(&self, provider: &str, person: &Person) -> reqwest::Response {
        let authorize = self.start_sign_in_with(provider, None).await;
        let callback = self.decide_at_provider(&authorize, person, "allow").await;
        self.follow(&callback).await
    }

    /// A same-site form POST, as the pages' forms send it.
    pub async fn post_form(&self, path: &str) -> reqwest::Response {
        self.post_here(path, &[("", "")]).await
    }

    /// A same-site form POST with these fields.
    pub async fn post_here(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post_from(&self.base.origin().ascii_serialization(), path, fields).await
    }

    /// A form POST with these fields from a page of `origin` (this site's, or another's).
    pub async fn post_from(&self, origin: &str, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let url = self.base.join(path).expect("a valid URL");
        self.client.post(url).header("origin", origin).form(fields).send().await.expect("an answer")
    }

    /// Submits a page's form to server function `name` as a browser without JavaScript does
    /// (an HTML form post from this site): the answer is a redirect back to the page.
    pub async fn submit(&self, name: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.server_fn(name, fields, "text/html,application/xhtml+xml").await
    }

    /// Calls server function `name` as the hydrated page does: the answer is its value, or
    /// its error (JSON) with the status that goes with it.
    pub async fn call(&self, name: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.server_fn(name, fields, "application/json").await
    }

    async fn server_fn(&self, name: &str, fields: &[(&str, &str)], accept: &str) -> reqwest::Response {
        let url = self.base.join(&format!("/api/{name}")).expect("a valid URL");
        self.client
            .post(url)
            .header("origin", self.base.origin().ascii_serialization())
            .header("accept", accept)
            .form(fields)
            .send()
            .await
            .expect("an answer")
    }

    /// The page a redirect from [`Browser::submit`] leads to, as HTML.
    pub async fn page_after(&self, response: reqwest::Response) -> String {
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "a form post is answered with a redirect");
        let page = location(&response);
        self.get(&format!("{}?{}", page.path(), page.query().unwrap_or_default())).await.text().await.expect("html")
    }

    /// Links `provider` to the signed-in account as `person`; returns the callback's response.
    pub async fn link(&self, provider: &str, person: &Person) -> reqwest::Response {
        let started = self.post_form(&format!("/auth/{provider}/link")).await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER, "linking starts with a redirect to the provider");
        let authorize = location(&started);
        let callback = self.decide_at_provider(&authorize, person, "allow").await;
        self.follow(&callback).await
    }

    /// The signed-in person's cookies, for calling the core directly.
    /// The value of this browser's cookie `name`, if it holds one.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let header = self.jar.cookies(&self.base)?;
        header.to_str().ok()?.split("; ").find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_string())
        })
    }

    /// The callback URL of an approved sign-in, not yet visited.
    pub async fn approved_callback(&self, person: &Person) -> Url {
        let authorize = self.start_sign_in(None).await;
        self.decide_at_provider(&authorize, person, "allow").await
    }

    /// `GET /api/me`: the status and, when 200, the body.
    pub async fn me(&self) -> (StatusCode, serde_json::Value) {
        let response = self.get("/api/me").await;
        let status = response.status();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn sign_out(&self) -> reqwest::Response {
        let url = self.base.join("/auth/logout").expect("a valid URL");
        self.client
            .post(url)
            .header("origin", self.base.origin().ascii_serialization())
            .send()
            .await
            .expect("sign-out answers")
    }

    /// The session cookie's value as the browser holds it.
    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let header = self.jar.cookies(&self.base)?;
        header.to_str().ok()?.split("; ").find_map(|pair| pair.strip_prefix("latchkey_session=").map(str::to_string))
    }
}

pub fn location(response: &reqwest::Response) -> Url {
    let value = response.headers().get(LOCATION).expect("a Location header").to_str().expect("an ASCII Location");
    response.url().join(value).expect("a valid Location")
}

pub fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
}

/// A request carrying only this cookie, as an attacker holding a stolen value would send it.
pub async fn me_with_cookie(app: &TestApp, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(app.url("/api/me"))
        .header(COOKIE, format!("latchkey_session={token}"))
        .send()
        .await
        .expect("the request completes")
        .status()
}

pub fn sha256_hex(value: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

/// A new, empty PostgreSQL database for one test, or `None` when no server is reachable.
pub async fn fresh_postgres_database() -> Option<String> {
    let admin_url = std::env::var("LATCHKEY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let mut options = sea_orm::ConnectOptions::new(admin_url.clone());
    options.connect_timeout(Duration::from_secs(2)).max_connections(1).sqlx_logging(false);
    let admin = match Database::connect(options).await {
        Ok(admin) => admin,
        Err(error) => {
            if std::env::var("LATCHKEY_TEST_POSTGRES_URL").is_ok() {
                panic!("LATCHKEY_TEST_POSTGRES_URL is set but PostgreSQL is not reachable: {error}");
            }
            return None;
        }
    };
    drop_stale_test_databases(&admin).await;
    let now = chrono::Utc::now().timestamp();
    let name = format!("latchkey_test_{now}_{}", uuid::Uuid::new_v4().simple());
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
    admin.close().await.ok();
    let mut url = Url::parse(&admin_url).expect("a valid PostgreSQL URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

/// Test databases are named `latchkey_test_<unix time>_<random>`; those older than an hour
/// belong to finished runs and are dropped so the server does not fill up.
async fn drop_stale_test_databases(admin: &DatabaseConnection) {
    use sea_orm::{DbBackend, Statement};
    let Ok(rows) = admin
        .query_all(Statement::from_string(
            DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname LIKE 'latchkey\\_test\\_%'",
        ))
        .await
    else {
        return;
    };
    let cutoff = chrono::Utc::now().timestamp() - 3600;
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else { continue };
        let created = name.split('_').nth(2).and_then(|t| t.parse::<i64>().ok());
        // Unparseable names come from older harness versions: also stale.
        if created.is_none_or(|t| t < cutoff) {
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}
