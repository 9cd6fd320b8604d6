// The pages' view types nest deeply; their layouts are computed where the binary links them.
#![recursion_limit = "256"]

use std::process::ExitCode;

use latchkey::Application;
use latchkey::latchkey_server::Config;
use latchkey::latchkey_server::storage::Database;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // Logging starts before the configuration is read (which may warn), so its one setting is
    // read here, from the environment.
    let json_logs = match std::env::var("LATCHKEY_LOG_FORMAT").as_deref().map(str::trim) {
        Ok("json") => true,
        Ok("text") | Ok("") | Err(_) => false,
        Ok(other) => {
            eprintln!("latchkey cannot start: LATCHKEY_LOG_FORMAT must be `text` or `json`, not `{other}`");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if json_logs {
        // One JSON object per line; the request's span (its id) is in every line.
        tracing_subscriber::fmt().json().with_current_span(true).with_span_list(false).with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }

    let command = std::env::args().nth(1);
    let config = match Config::load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("latchkey cannot start: {error}");
            return ExitCode::from(2);
        }
    };
    match command.as_deref() {
        None | Some("serve") => {}
        // For deployments that migrate in a step of their own (serving migrates too, and
        // finds nothing left to do).
        Some("migrate") => {
            return match Database::connect(config.database_url.expose()).await {
                Ok(database) => {
                    database.close().await;
                    tracing::info!("the database is migrated");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("latchkey cannot migrate the database: {error}");
                    ExitCode::from(2)
                }
            };
        }
        Some("admin") => return admin_command(config, std::env::args().skip(2).collect()).await,
        Some(other) => {
            eprintln!(
                "latchkey: unknown command `{other}` (commands: `serve`, the default, `migrate`, and `admin grant|revoke <email>`)"
            );
            return ExitCode::from(2);
        }
    }
    if let Some(metrics_addr) = config.metrics_addr {
        let installed = metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(metrics_addr)
            .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            .and_then(|builder| builder.install());
        if let Err(error) = installed {
            eprintln!("latchkey cannot serve its metrics on {metrics_addr} (LATCHKEY_METRICS_ADDR): {error}");
            return ExitCode::from(2);
        }
    }
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

/// `latchkey admin grant <email>` and `latchkey admin revoke <email>`: whoever has `email` as a
/// provider-verified email of one of their identities is (or is no longer) an admin.
async fn admin_command(config: Config, args: Vec<String>) -> ExitCode {
    let (grant, email) = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["grant", email] => (true, email.trim().to_string()),
        ["revoke", email] => (false, email.trim().to_string()),
        _ => {
            eprintln!("usage: latchkey admin grant <email> | latchkey admin revoke <email>");
            return ExitCode::from(2);
        }
    };
    if !email.contains('@') || email.contains(char::is_whitespace) {
        eprintln!("latchkey admin: `{email}` is not an email address");
        return ExitCode::from(2);
    }
    let latchkey = match latchkey::latchkey_server::Latchkey::start(config).await {
        Ok(latchkey) => latchkey,
        Err(error) => {
            eprintln!("latchkey admin: cannot open the database: {error}");
            return ExitCode::from(2);
        }
    };
    let admins = latchkey.admins();
    let outcome = if grant { admins.grant(&email).await } else { admins.revoke(&email).await };
    match (grant, outcome) {
        (true, Ok(true)) => println!("{email} is an admin now (once a provider has verified it for their account)"),
        (true, Ok(false)) => println!("{email} was already granted admin rights"),
        (false, Ok(true)) if admins.is_configured(&email) => {
            println!("the grant of {email} is revoked, but LATCHKEY_ADMINS still lists it: remove it there too")
        }
        (false, Ok(true)) => println!("{email} is no longer an admin"),
        (false, Ok(false)) if admins.is_configured(&email) => {
            println!("{email} is listed in LATCHKEY_ADMINS, not granted here: remove it there")
        }
        (false, Ok(false)) => println!("{email} had no admin grant"),
        (_, Err(error)) => {
            eprintln!("latchkey admin: the database refused the change: {error}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
