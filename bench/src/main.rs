//! latchkey's benchmark program: complete sign-ins at chosen concurrencies, then signed-in
//! page loads, against a release server; prints a table and JSON. It measures, it does not
//! judge: failures are counted and shown, and the exit code is 1 when there were any.
//!
//! ```sh
//! cargo leptos build --release --precompress
//! cargo run --profile bench-program -p latchkey-bench -- --database sqlite --concurrency 8,32,64
//! ```

mod browser;
mod measure;
mod raw;
mod target;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde::Serialize;
use url::Url;

use browser::{Browser, Person, join};
use measure::{Latencies, ProcessSample};
use target::{DatabaseKind, Launch, Target};

#[derive(Parser, Debug)]
#[command(about = "Load latchkey with complete sign-ins and signed-in page loads; print the numbers.")]
struct Args {
    /// The database the started server uses.
    #[arg(long, value_enum, default_value = "sqlite")]
    database: DatabaseKind,
    /// Concurrent sign-ins, one phase each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "8,32,64")]
    concurrency: Vec<usize>,
    /// Sign-ins per concurrency phase (each a new browser and a new person).
    #[arg(long, default_value_t = 600)]
    sign_ins: usize,
    /// Signed-in connections loading pages.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// How long each page phase runs, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The pages loaded, one phase each (comma-separated; empty for none).
    #[arg(long, value_delimiter = ',', default_value = "/api/me,/profile")]
    pages: Vec<String>,
    /// Also run this many concurrent sign-ins during each page phase.
    #[arg(long, default_value_t = 0)]
    with_sign_ins: usize,
    /// The release server binary to start [default: $CARGO_TARGET_DIR or target, then
    /// release/latchkey].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Its site directory (`cargo leptos build --release` writes `target/site`).
    #[arg(long, default_value = "target/site")]
    site_root: PathBuf,
    /// PostgreSQL where a fresh database is created (and dropped afterwards).
    #[arg(long, env = "LATCHKEY_BENCH_POSTGRES_URL", default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres_url: String,
    /// Use a running latchkey instead of starting one (its development provider signs in).
    #[arg(long)]
    url: Option<Url>,
    /// With --url: the provider id to sign in with.
    #[arg(long, default_value = "dev")]
    provider: String,
    /// With --url: the server's process id, for CPU time and memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Also write the JSON report to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Serialize)]
struct Report {
    database: Option<DatabaseKind>,
    server: String,
    sign_ins: Vec<SignInPhase>,
    pages: Vec<PagePhase>,
    /// Peak resident set size of the server over the whole run, MB.
    peak_rss_mb: Option<f64>,
}

#[derive(Serialize)]
struct SignInPhase {
    concurrency: usize,
    attempted: usize,
    failures: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Server CPU time (user + system) per successful sign-in.
    cpu_ms_per_sign_in: Option<f64>,
    first_failures: Vec<String>,
}

#[derive(Serialize)]
struct PagePhase {
    path: String,
    connections: usize,
    seconds: f64,
    requests: usize,
    errors: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    /// Requests per second of server CPU time: the figure that does not depend on cores.
    per_cpu_second: Option<f64>,
    /// Sign-ins that ran alongside (with --with-sign-ins).
    sign_ins_alongside: Option<SignInPhase>,
    first_failures: Vec<String>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let mut target = match &args.url {
        Some(url) => Target::running(url.clone(), args.provider.clone(), args.pid),
        None => {
            let launch = Launch {
                server_bin: &server_bin(&args),
                site_root: &args.site_root,
                database: args.database,
                postgres_admin_url: &args.postgres_url,
            };
            match Target::launch(launch, &http).await {
                Ok(target) => target,
                Err(error) => {
                    eprintln!("latchkey-bench: {error}");
                    std::process::exit(2);
                }
            }
        }
    };
    let report = run(&args, &target, &http).await;
    let failed = report.sign_ins.iter().any(|p| p.failures > 0)
        || report.pages.iter().any(|p| p.errors > 0 || p.sign_ins_alongside.as_ref().is_some_and(|s| s.failures > 0));
    if failed {
        eprintln!("--- the server's log ---\n{}", target.log_tail());
    }
    target.stop().await;
    print_table(&report);
    let json = serde_json::to_string(&report).expect("the report serializes");
    println!("\n{json}");
    if let Some(path) = &args.json
        && let Err(e) = std::fs::write(path, &json)
    {
        eprintln!("latchkey-bench: {}: {e}", path.display());
    }
    std::process::exit(i32::from(failed));
}

async fn run(args: &Args, target: &Target, http: &reqwest::Client) -> Report {
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let people = Arc::new(People { run_id, next: AtomicUsize::new(0) });
    // Discovery, JWKS and the first connections happen here, not in the first phase.
    sign_ins(target, http, &people, 4, 20).await;
    let mut report = Report {
        database: args.url.is_none().then_some(args.database),
        server: if args.url.is_some() { target.base.to_string() } else { server_bin(args).display().to_string() },
        sign_ins: Vec::new(),
        pages: Vec::new(),
        peak_rss_mb: None,
    };
    for &concurrency in &args.concurrency {
        let phase = sign_ins(target, http, &people, concurrency.max(1), args.sign_ins.max(concurrency)).await;
        eprintln!("sign-ins at {concurrency}: {} failed of {}", phase.failures, phase.attempted);
        report.sign_ins.push(phase);
    }
    for path in args.pages.iter().filter(|p| !p.is_empty()) {
        let url = match join(&target.base, path) {
            Ok(url) => url,
            Err(error) => {
                eprintln!("latchkey-bench: --pages: {error}");
                continue;
            }
        };
        let phase = page_loads(args, target, http, &people, &url).await;
        eprintln!("{path}: {} errors of {}", phase.errors, phase.requests);
        report.pages.push(phase);
    }
    report.peak_rss_mb =
        target.pid.and_then(|pid| ProcessSample::read(pid).ok()).map(|s| s.peak_rss as f64 / (1024.0 * 1024.0));
    report
}

fn server_bin(args: &Args) -> PathBuf {
    args.server_bin.clone().unwrap_or_else(|| {
        let target_dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
        target_dir.join("release").join("latchkey")
    })
}

/// Hands out a new person per sign-in.
struct People {
    run_id: String,
    next: AtomicUsize,
}

impl People {
    fn next(&self) -> Person {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Person { name: format!("Bench Person {n}"), email: format!("p{n}.{}@bench.example", self.run_id) }
    }
}

/// `count` complete sign-ins, `concurrency` at a time.
async fn sign_ins(
    target: &Target,
    http: &reqwest::Client,
    people: &Arc<People>,
    concurrency: usize,
    count: usize,
) -> SignInPhase {
    let before = target.pid.and_then(|pid| ProcessSample::read(pid).ok());
    let started = Instant::now();
    let until = Until::Count(Arc::new(AtomicUsize::new(count)));
    let outcome =
        sign_in_workers(target.base.clone(), target.provider.clone(), http.clone(), people.clone(), concurrency, until)
            .await;
    outcome.into_phase(concurrency, started.elapsed(), cpu_between(target, before))
}

/// When sign-in workers stop.
#[derive(Clone)]
enum Until {
    /// After this many sign-ins between them.
    Count(Arc<AtomicUsize>),
    Deadline(Instant),
}

impl Until {
    fn another(&self) -> bool {
        match self {
            Until::Count(remaining) => {
                remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
            }
            Until::Deadline(deadline) => Instant::now() < *deadline,
        }
    }
}

/// `concurrency` workers, each signing in new people one after the other.
async fn sign_in_workers(
    base: Url,
    provider: String,
    http: reqwest::Client,
    people: Arc<People>,
    concurrency: usize,
    until: Until,
) -> SignInOutcome {
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (base, provider, http, people, until) =
                (base.clone(), provider.clone(), http.clone(), people.clone(), until.clone());
            tokio::spawn(async move {
                let mut outcome = SignInOutcome::default();
                while until.another() {
                    outcome.attempt(&http, &base, &provider, &people.next()).await;
                }
                outcome
            })
        })
        .collect();
    let mut total = SignInOutcome::default();
    for worker in workers {
        if let Ok(outcome) = worker.await {
            total.merge(outcome);
        }
    }
    total
}

/// Sign-ins one worker made.
#[derive(Default)]
struct SignInOutcome {
    latencies: Latencies,
    failures: Vec<String>,
}

impl SignInOutcome {
    async fn attempt(&mut self, http: &reqwest::Client, base: &Url, provider: &str, person: &Person) {
        let started = Instant::now();
        match Browser::new(http).sign_in(base, provider, person).await {
            Ok(()) => self.latencies.record(started.elapsed()),
            Err(failure) => self.failures.push(failure),
        }
    }

    fn merge(&mut self, other: SignInOutcome) {
        self.latencies.extend(other.latencies);
        self.failures.extend(other.failures);
    }

    fn into_phase(mut self, concurrency: usize, elapsed: Duration, cpu: Option<Duration>) -> SignInPhase {
        let succeeded = self.latencies.len();
        SignInPhase {
            concurrency,
            attempted: succeeded + self.failures.len(),
            failures: self.failures.len(),
            per_second: succeeded as f64 / elapsed.as_secs_f64(),
            p50_ms: self.latencies.quantile_ms(0.50),
            p99_ms: self.latencies.quantile_ms(0.99),
            cpu_ms_per_sign_in: cpu.filter(|_| succeeded > 0).map(|cpu| cpu.as_secs_f64() * 1000.0 / succeeded as f64),
            first_failures: self.failures.into_iter().take(5).collect(),
        }
    }
}

/// Signs in `connections` people, then each loads `path` over and over for the phase's time.
async fn page_loads(
    args: &Args,
    target: &Target,
    http: &reqwest::Client,
    people: &Arc<People>,
    url: &Url,
) -> PagePhase {
    let mut browsers = Vec::new();
    let mut setup_failures = Vec::new();
    for _ in 0..args.connections.max(1) {
        let mut browser = Browser::new(http);
        match browser.sign_in(&target.base, &target.provider, &people.next()).await {
            Ok(()) => browsers.push(browser),
            Err(failure) => setup_failures.push(failure),
        }
    }
    let duration = Duration::from_secs(args.seconds.max(1));
    let connections = browsers.len();
    let alongside = (args.with_sign_ins > 0).then(|| {
        let until = Until::Deadline(Instant::now() + duration);
        let workers = sign_in_workers(
            target.base.clone(),
            target.provider.clone(),
            http.clone(),
            people.clone(),
            args.with_sign_ins,
            until,
        );
        let (concurrency, started) = (args.with_sign_ins, Instant::now());
        tokio::spawn(async move { workers.await.into_phase(concurrency, started.elapsed(), None) })
    });
    let before = target.pid.and_then(|pid| ProcessSample::read(pid).ok());
    let started = Instant::now();
    let deadline = started + duration;
    let failures = Arc::new(Mutex::new(Vec::new()));
    let loaders: Vec<_> = browsers
        .into_iter()
        .map(|browser| {
            let failures = failures.clone();
            let connection = raw::RawConnection::new(url, browser.cookie_header().as_deref());
            let path = url.path().to_string();
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let mut connection = match connection {
                    Ok(connection) => connection,
                    Err(failure) => {
                        failures.lock().unwrap_or_else(|p| p.into_inner()).push(failure);
                        return latencies;
                    }
                };
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match connection.get().await {
                        Ok(200) => latencies.record(sent.elapsed()),
                        Ok(status) => {
                            failures.lock().unwrap_or_else(|p| p.into_inner()).push(format!("{path} answered {status}"))
                        }
                        Err(failure) => failures.lock().unwrap_or_else(|p| p.into_inner()).push(failure),
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Latencies::default();
    for loader in loaders {
        if let Ok(own) = loader.await {
            latencies.extend(own);
        }
    }
    let elapsed = started.elapsed();
    let cpu = cpu_between(target, before);
    let sign_ins_alongside = match alongside {
        Some(task) => task.await.ok(),
        None => None,
    };
    let mut failures = std::mem::take(&mut *failures.lock().unwrap_or_else(|p| p.into_inner()));
    failures.extend(setup_failures);
    let requests = latencies.len() + failures.len();
    PagePhase {
        path: url.path().to_string(),
        connections,
        seconds: elapsed.as_secs_f64(),
        requests,
        errors: failures.len(),
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: latencies.quantile_ms(0.50),
        p99_ms: latencies.quantile_ms(0.99),
        p999_ms: latencies.quantile_ms(0.999),
        per_cpu_second: cpu.filter(|cpu| !cpu.is_zero()).map(|cpu| latencies.len() as f64 / cpu.as_secs_f64()),
        sign_ins_alongside,
        first_failures: failures.into_iter().take(5).collect(),
    }
}

fn cpu_between(target: &Target, before: Option<ProcessSample>) -> Option<Duration> {
    let after = ProcessSample::read(target.pid?).ok()?;
    Some(after.cpu.saturating_sub(before?.cpu))
}

fn print_table(report: &Report) {
    let database = report.database.map(|d| format!("{d:?}").to_lowercase()).unwrap_or_else(|| "as running".into());
    println!("\nlatchkey-bench — server {}, database {database}", report.server);
    println!("\ncomplete sign-ins (login → provider → callback → /api/me), each a new browser and person");
    println!(
        "{:>11} {:>9} {:>9} {:>12} {:>9} {:>9} {:>16}",
        "concurrency", "sign-ins", "failures", "sign-ins/s", "p50 ms", "p99 ms", "CPU ms/sign-in"
    );
    for phase in &report.sign_ins {
        println!(
            "{:>11} {:>9} {:>9} {:>12.0} {:>9.1} {:>9.1} {:>16}",
            phase.concurrency,
            phase.attempted,
            phase.failures,
            phase.per_second,
            phase.p50_ms,
            phase.p99_ms,
            optional(phase.cpu_ms_per_sign_in, 2)
        );
    }
    if !report.pages.is_empty() {
        println!("\nsigned-in page loads");
        println!(
            "{:<10} {:>5} {:>9} {:>7} {:>9} {:>8} {:>8} {:>9} {:>12} {:>22}",
            "page",
            "conns",
            "requests",
            "errors",
            "req/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "req/CPU-s",
            "sign-ins alongside"
        );
        for phase in &report.pages {
            let alongside = phase
                .sign_ins_alongside
                .as_ref()
                .map(|s| format!("{} ({} failed)", s.attempted, s.failures))
                .unwrap_or_else(|| "-".into());
            println!(
                "{:<10} {:>5} {:>9} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>9.2} {:>12} {:>22}",
                phase.path,
                phase.connections,
                phase.requests,
                phase.errors,
                phase.per_second,
                phase.p50_ms,
                phase.p99_ms,
                phase.p999_ms,
                optional(phase.per_cpu_second, 0),
                alongside
            );
        }
    }
    if let Some(rss) = report.peak_rss_mb {
        println!("\nserver peak RSS: {rss:.1} MB");
    }
    let failures: Vec<&String> = report
        .sign_ins
        .iter()
        .flat_map(|p| &p.first_failures)
        .chain(report.pages.iter().flat_map(|p| &p.first_failures))
        .take(5)
        .collect();
    for failure in failures {
        println!("failure: {failure}");
    }
}

fn optional(value: Option<f64>, decimals: usize) -> String {
    value.map(|v| format!("{v:.decimals$}")).unwrap_or_else(|| "-".into())
}
