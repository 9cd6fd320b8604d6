//! Real processes: the server binary as operators run it, and a TCP proxy the test controls
//! (a load balancer in front of instances, or a network path to the database that can be cut).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

/// The real server binary on a free port, its output in a file; a fresh SQLite database unless
/// the settings name another.
pub struct Process {
    pub child: std::process::Child,
    pub address: SocketAddr,
    base: String,
    log: std::path::PathBuf,
    pub data_dir: tempfile::TempDir,
}

impl Process {
    /// Starts the server (on `LEPTOS_SITE_ADDR` if the settings name one) and waits until it serves (it binds only once migrations are done).
    pub async fn start<K: AsRef<str>, V: AsRef<str>>(settings: &[(K, V)]) -> Process {
        let data_dir = tempfile::tempdir().expect("a directory");
        // A listen address among the settings wins (for a public URL known beforehand).
        let address = settings
            .iter()
            .find(|(name, _)| name.as_ref() == "LEPTOS_SITE_ADDR")
            .map(|(_, address)| address.as_ref().parse().expect("a socket address"))
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], free_port())));
        let log = data_dir.path().join("server.log");
        let output = std::fs::File::create(&log).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .env_clear()
            .env("LEPTOS_SITE_ADDR", address.to_string())
            .env("LATCHKEY_DATA_DIR", data_dir.path())
            .envs(settings.iter().map(|(name, value)| (name.as_ref(), value.as_ref())))
            .stdout(output.try_clone().expect("the log file"))
            .stderr(output)
            .spawn()
            .expect("the server starts");
        let process = Process { child, address, base: format!("http://{address}"), log, data_dir };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !reqwest::get(process.url("/healthz")).await.is_ok_and(|r| r.status() == StatusCode::OK) {
            assert!(tokio::time::Instant::now() < deadline, "the server never answered /healthz: {}", process.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        process
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a [`TcpProxy`] sends connections, and whether the path is cut.
#[derive(Clone, Copy)]
struct Route {
    target: Option<SocketAddr>,
    cut: bool,
    /// Bumped by every change: connections of an older generation are closed.
    generation: u64,
}

/// A TCP proxy on 127.0.0.1: forwards every connection to its target. Changing the target
/// closes the connections open so far (as a load balancer draining an instance); cutting it
/// closes them too and holds new ones silent, as a network path that has gone away.
pub struct TcpProxy {
    pub address: SocketAddr,
    route: Arc<watch::Sender<Route>>,
}

impl TcpProxy {
    pub async fn start(target: Option<SocketAddr>) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let route = Arc::new(watch::Sender::new(Route { target, cut: false, generation: 0 }));
        tokio::spawn({
            let route = route.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    tokio::spawn(forward(client, route.subscribe()));
                }
            }
        });
        TcpProxy { address, route }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// New connections go to `target`; open ones are closed.
    pub fn send_to(&self, target: SocketAddr) {
        self.route.send_modify(|route| {
            route.target = Some(target);
            route.cut = false;
            route.generation += 1;
        });
    }

    /// Closes every open connection and holds new ones without an answer.
    pub fn cut(&self) {
        self.route.send_modify(|route| {
            route.cut = true;
            route.generation += 1;
        });
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.route.send_modify(|route| {
            route.cut = false;
            route.generation += 1;
        });
    }
}

async fn forward(mut client: TcpStream, mut route: watch::Receiver<Route>) {
    let now = *route.borrow_and_update();
    let changed = async move {
        let _ = route.wait_for(|later| later.generation != now.generation).await;
    };
    let target = match now.target {
        Some(target) if !now.cut => target,
        // Held silent until the route changes, then closed: the peer sees a connection that
        // never answers, then a reset.
        _ => return changed.await,
    };
    let Ok(mut upstream) = TcpStream::connect(target).await else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        () = changed => {}
    }
}
