//! Several real server processes on one PostgreSQL database behind one public URL, and an
//! instance whose path to the database is cut and comes back. PostgreSQL only: that is how
//! latchkey is scaled out.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{LOCATION, ORIGIN};

use crate::fakes::oidc::FakeOidc;
use crate::process::{Process, TcpProxy};
use crate::support::{TEST_SECRET_KEY, fresh_postgres_database, skip_postgres};

/// The settings every instance of one deployment shares.
fn deployment(public_url: &str, database_url: &str, provider: &FakeOidc) -> Vec<(String, String)> {
    let mut settings = vec![
        ("LATCHKEY_PUBLIC_URL".to_string(), public_url.to_string()),
        ("LATCHKEY_DATABASE_URL".to_string(), database_url.to_string()),
        ("LATCHKEY_SECRET_KEY".to_string(), TEST_SECRET_KEY.to_string()),
        ("LATCHKEY_IDP_TIMEOUT_SECONDS".to_string(), "2".to_string()),
        ("RUST_LOG".to_string(), "warn".to_string()),
    ];
    settings.extend(provider.variables("ACME", "oidc"));
    settings
}

/// A browser: its own cookies, every redirect visible, a new connection for every request
/// (so that a load balancer's choice applies to the very next one).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

async fn get(browser: &reqwest::Client, url: &str) -> reqwest::Response {
    browser.get(url).send().await.expect("an answer")
}

fn location(response: &reqwest::Response) -> String {
    let location = response.headers().get(LOCATION).expect("a redirect").to_str().expect("text");
    response.url().join(location).expect("a URL").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_started_at_once_on_an_empty_database_share_sign_ins_and_sign_outs() {
    let Some(database_url) = fresh_postgres_database().await else {
        return skip_postgres(module_path!());
    };
    let provider = FakeOidc::google().await;
    let balancer = TcpProxy::start(None).await;
    let public_url = balancer.url();
    let settings = deployment(&public_url, &database_url, &provider);

    // Both migrate the empty database at the same moment; each serves only once that is done.
    let metrics = format!("127.0.0.1:{}", crate::process::free_port());
    let mut second_settings = settings.clone();
    second_settings.push(("LATCHKEY_METRICS_ADDR".to_string(), metrics.clone()));
    let (first, second) = tokio::join!(Process::start(&settings), Process::start(&second_settings));
    let browser = browser();

    balancer.send_to(first.address);
    let started = get(&browser, &format!("{public_url}/auth/acme/login")).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER, "{}", first.log());
    let at_provider = get(&browser, &location(&started)).await;
    let callback = location(&at_provider);
    assert!(callback.starts_with(&public_url), "back to the public URL: {callback}");
    balancer.send_to(second.address);
    let completed = get(&browser, &callback).await;

    assert_eq!(completed.status(), StatusCode::SEE_OTHER, "the sign-in started on one instance completes on the other");
    let me = get(&browser, &format!("{public_url}/api/me")).await;
    assert_eq!(me.status(), StatusCode::OK, "signed in, as the second instance sees it");
    let scraped = get(&browser, &format!("http://{metrics}/metrics")).await.text().await.expect("metrics");
    assert!(
        scraped.contains(r#"latchkey_sign_ins_total{provider="acme",outcome="ok"} 1"#),
        "the instance that completed the sign-in counts it: {scraped}"
    );
    balancer.send_to(first.address);
    assert_eq!(get(&browser, &format!("{public_url}/api/me")).await.status(), StatusCode::OK, "and the first");

    let signed_out =
        browser.post(format!("{public_url}/auth/logout")).header(ORIGIN, &public_url).send().await.expect("an answer");
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    balancer.send_to(second.address);
    assert_eq!(
        get(&browser, &format!("{public_url}/api/me")).await.status(),
        StatusCode::UNAUTHORIZED,
        "signed out on the first instance, refused by the second at its very next request"
    );
    provider.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_cut_off_from_its_database_answers_503_and_recovers_by_itself() {
    let Some(database_url) = fresh_postgres_database().await else {
        return skip_postgres(module_path!());
    };
    let mut via_proxy = url::Url::parse(&database_url).expect("a URL");
    let database = via_proxy.socket_addrs(|| Some(5432)).expect("an address")[0];
    let path = TcpProxy::start(Some(database)).await;
    via_proxy.set_port(Some(path.address.port())).expect("a port");
    let provider = FakeOidc::google().await;
    let port = crate::process::free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let mut settings = deployment(&public_url, via_proxy.as_str(), &provider);
    settings.push(("LEPTOS_SITE_ADDR".to_string(), format!("127.0.0.1:{port}")));
    let server = Process::start(&settings).await;
    let browser = browser();
    let started = get(&browser, &server.url("/auth/acme/login")).await;
    let at_provider = get(&browser, &location(&started)).await;
    assert_eq!(get(&browser, &location(&at_provider)).await.status(), StatusCode::SEE_OTHER, "signed in");
    let me_before: serde_json::Value =
        get(&browser, &server.url("/api/me")).await.json().await.expect("the signed-in person");

    path.cut();
    let asked = Instant::now();
    let api = get(&browser, &server.url("/api/me")).await;
    let api_took = asked.elapsed();
    let page = get(&browser, &server.url("/profile")).await;
    let healthz = get(&browser, &server.url("/healthz")).await.status();
    let readyz = get(&browser, &server.url("/readyz")).await.status();

    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(api_took < Duration::from_secs(10), "answered within seconds, not left hanging ({api_took:?})");
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await.expect("a page").contains("try again"), "the page says what to do");
    assert_eq!(healthz, StatusCode::OK, "the process still serves");
    assert_eq!(readyz, StatusCode::SERVICE_UNAVAILABLE, "but is not ready");

    path.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&browser, &server.url("/readyz")).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the instance never recovered: {}", server.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let me_after = get(&browser, &server.url("/api/me")).await;
    assert_eq!(me_after.status(), StatusCode::OK, "the same session works again");
    let me_after: serde_json::Value = me_after.json().await.expect("the person");
    assert_eq!(me_after["id"], me_before["id"]);
}
