//! What operators and load balancers rely on: the health and readiness probes, and a clean
//! stop on SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

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
    let data_dir = tempfile::tempdir().expect("a directory");
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .env_clear()
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LATCHKEY_DATA_DIR", data_dir.path())
        .env("LATCHKEY_SHUTDOWN_GRACE_SECONDS", "5")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let client = reqwest::Client::new();
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if client.get(&healthz).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the server never answered /healthz");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.expect("an answer").status(), 200);

    let signalled = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill runs");
    assert!(signalled.success());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.try_wait().expect("the server's status") {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "a requested stop is a clean exit");
    assert!(client.get(&healthz).send().await.is_err(), "nothing listens any more");
}
