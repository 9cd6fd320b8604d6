use std::process::ExitCode;

use latchkey::Application;
use latchkey::latchkey_server::Config;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();

    let config = match Config::load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("latchkey cannot start: {error}");
            return ExitCode::from(2);
        }
    };
    let (listen_addr, public_url, dev_idps) = (config.listen_addr, config.public_url.clone(), config.dev_idps);
    // Migrations run here; only a migrated instance takes connections.
    let application = match Application::build(config).await {
        Ok(application) => application,
        Err(error) => {
            eprintln!("latchkey cannot start: {error}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen_addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("latchkey cannot listen on {listen_addr} (LEPTOS_SITE_ADDR): {error}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(%public_url, dev_idps, "latchkey is listening");
    match application.serve(listener).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("latchkey stopped: {error}");
            ExitCode::FAILURE
        }
    }
}
