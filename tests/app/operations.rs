//! What operators and load balancers rely on: the health and readiness probes, and a clean
//! stop on SIGTERM.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;

use crate::process::{Process, free_port};
use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_needs_no_database_and_readyz_says_whether_the_database_answers() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    for path in ["/healthz", "/readyz"] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }

    app.latchkey.db().clone().close().await;

    assert_eq!(browser.get("/healthz").await.status(), StatusCode::OK, "the process still serves");
    assert_eq!(browser.get("/readyz").await.status(), StatusCode::SERVICE_UNAVAILABLE, "the database does not");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_the_server_stops_taking_requests_and_exits_0() {
    let mut process = Process::start(&[("LATCHKEY_SHUTDOWN_GRACE_SECONDS", "5"), ("RUST_LOG", "warn")]).await;
    assert_eq!(reqwest::get(process.url("/readyz")).await.expect("an answer").status(), StatusCode::OK);

    let signalled = Command::new("kill").args(["-TERM", &process.child.id().to_string()]).status().expect("kill");
    assert!(signalled.success());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = process.child.try_wait().expect("the server's status") {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "a requested stop is a clean exit");
    assert!(reqwest::get(process.url("/healthz")).await.is_err(), "nothing listens any more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_has_an_id_and_one_access_line_without_query_or_cookie() {
    let process = Process::start(&[("LATCHKEY_LOG_FORMAT", "json"), ("RUST_LOG", "info")]).await;
    let client = reqwest::Client::new();
    let get = |path: &str, id: Option<&str>| {
        let mut request = client.get(process.url(path)).header("cookie", "latchkey_session=cookie-secret");
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        request.send()
    };

    let refused = get("/auth/nobody/login?return_to=/query-secret", None).await.expect("an answer");
    let kept = get("/api/me", Some("trace-abc.123")).await.expect("an answer");
    let replaced = get("/api/me", Some("not plain; <script>")).await.expect("an answer");
    get("/healthz", None).await.expect("an answer");

    let id = |response: &reqwest::Response| response.headers()["x-request-id"].to_str().expect("text").to_string();
    let refused_id = id(&refused);
    assert_eq!(refused_id.len(), 32, "a new id: {refused_id}");
    assert_eq!(id(&kept), "trace-abc.123", "a short, plain id is kept");
    assert_ne!(id(&replaced), "not plain; <script>");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = process.log();
    let lines: Vec<serde_json::Value> = log.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let of = |id: &str| lines.iter().filter(|line| line["span"]["id"] == id).collect::<Vec<_>>();

    let refused_lines = of(&refused_id);
    assert!(refused_lines.len() >= 2, "the refusal's warning and its access line both carry the id: {log}");
    let access: Vec<_> = lines.iter().filter(|line| line["fields"]["message"] == "served").collect();
    assert_eq!(access.len(), 3, "one access line per request, none for the probe: {log}");
    let line = access.iter().find(|line| line["span"]["id"] == refused_id.as_str()).expect("its access line");
    assert_eq!(line["fields"]["route"], "/auth/{provider}/login");
    assert_eq!(line["fields"]["status"], 404);
    assert_eq!(line["fields"]["method"], "GET");
    assert!(line["fields"]["latency_ms"].is_number());
    assert!(!log.contains("query-secret") && !log.contains("cookie-secret"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_their_own_listener_only() {
    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let process =
        Process::start(&[("LATCHKEY_METRICS_ADDR", metrics_addr.as_str()), ("LATCHKEY_DEV_IDP", "true")]).await;
    let denied = reqwest::get(process.url("/auth/dev/callback?error=access_denied")).await.expect("an answer");
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);

    let public = reqwest::get(process.url("/metrics")).await.expect("an answer");
    let scraped = reqwest::get(format!("http://{metrics_addr}/metrics")).await.expect("the metrics listener");
    let text = scraped.text().await.expect("the metrics");

    assert_eq!(public.status(), StatusCode::NOT_FOUND, "never on the public listener");
    assert!(text.contains(r#"latchkey_sign_ins_total{provider="dev",outcome="denied_at_provider"} 1"#), "{text}");
    assert!(
        text.contains(
            r#"latchkey_http_request_duration_seconds_bucket{route="/auth/{provider}/callback",status="4xx""#
        ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_failure_answers_503_and_is_logged_once_with_the_request_id() {
    use sea_orm::ConnectionTrait;
    let process = Process::start(&[("LATCHKEY_LOG_FORMAT", "json"), ("RUST_LOG", "info")]).await;
    let database = format!("sqlite://{}", process.data_dir.path().join("latchkey.db").display());
    let outside = sea_orm::Database::connect(database).await.expect("the server's database");
    outside.execute_unprepared("DROP TABLE sessions").await.expect("the sessions are gone");
    let client = reqwest::Client::new();
    let with_session =
        |path: &str| client.get(process.url(path)).header("cookie", "latchkey_session=some-token").send();

    let api = with_session("/api/me").await.expect("an answer");
    let page = with_session("/profile").await.expect("an answer");

    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = process.log();
    let errors: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["level"] == "ERROR")
        .collect();
    for response in [&api, &page] {
        let id = response.headers()["x-request-id"].to_str().expect("text");
        let logged = errors.iter().filter(|line| line["span"]["id"] == id).count();
        assert_eq!(logged, 1, "one error line for request {id}: {log}");
    }
}

#[test]
fn latchkey_migrate_migrates_and_exits_and_an_unknown_command_is_refused() {
    let data_dir = tempfile::tempdir().expect("a directory");
    let run = |command: &str| {
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .env_clear()
            .env("LATCHKEY_DATA_DIR", data_dir.path())
            .arg(command)
            .output()
            .expect("the binary runs")
    };

    let migrated = run("migrate");
    let refused = run("serv");

    assert_eq!(migrated.status.code(), Some(0), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert!(data_dir.path().join("latchkey.db").exists(), "the database was created");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown command `serv`"));
}
