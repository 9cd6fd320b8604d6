//! The latchkey server: composes the sign-in core (`latchkey-server`) with the Leptos UI
//! (`latchkey-app`) into one axum application.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::handler::HandlerWithoutStateExt;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;
use axum::routing::{MethodFilter, get, on};
use axum::serve::ListenerExt;
use latchkey_app::render::{NOT_FOUND, PAGES, Page, RenderedPage, render_page};
use latchkey_server::http::StaticFiles;
use latchkey_server::http::operations::Readiness;
use latchkey_server::http::{
    CspNonce, RateLimits, SecurityHeaders, attach_request_context, limit_bodies, limit_rates, load_signed_in_person,
    log_request, protect, reject_cross_origin_writes, security_headers,
};
use latchkey_server::types::SiteFiles;
use latchkey_server::{Config, Latchkey, StartupError};
use leptos::config::LeptosOptions;
use leptos::prelude::{provide_context, with_context};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

pub use latchkey_server;

#[cfg(feature = "dev-idp")]
pub mod dev_idp;
#[cfg(feature = "dev-idp")]
pub use latchkey_dev_idp;

/// A built application, ready to serve on a listener.
pub struct Application {
    latchkey: Latchkey,
    router: Router,
    readiness: Readiness,
    #[cfg(feature = "dev-idp")]
    dev_idps: Vec<dev_idp::MountedDevIdp>,
}

impl Application {
    #[cfg_attr(not(feature = "dev-idp"), allow(unused_mut))]
    pub async fn build(mut config: Config) -> Result<Self, StartupError> {
        #[cfg(feature = "dev-idp")]
        let dev_idps = dev_idp::configure(&mut config);
        #[cfg(not(feature = "dev-idp"))]
        if config.dev_idps > 0 {
            return Err(StartupError::DevIdpNotBuilt);
        }
        let leptos_options = leptos_options(&config);
        let live_reload = live_reload_socket(&leptos_options);
        let site = Arc::new(site_files(&leptos_options));
        latchkey_server::http::use_stylesheet(&site.stylesheet);
        let leptos_site_pkg = (
            format!("/{}", leptos_options.site_pkg_dir),
            std::path::Path::new(leptos_options.site_root.as_ref()).join(leptos_options.site_pkg_dir.as_ref()),
        );
        let rate_limits = RateLimits::start(&config.rate_limits);
        let latchkey = Latchkey::start(config).await?;
        // What every render gets, the not-found page's too: the core, and the response's nonce.
        let render_context = {
            // One `Arc`: the closure is cloned for every request.
            let shared = Arc::new((latchkey.clone(), site.clone(), leptos_options.clone()));
            // `cargo leptos watch` renames the files at every rebuild, restarting the server only
            // for Rust changes: it reads the names again for every page.
            let watching = std::env::var_os("LEPTOS_WATCH").is_some();
            move || {
                let (latchkey, site, options) = &*shared;
                provide_context(latchkey.clone());
                provide_context(if watching { Arc::new(site_files(options)) } else { site.clone() });
                use_response_nonce();
            }
        };
        let pages = pages(Arc::new(leptos_options), render_context);
        // latchkey's own rules, outermost first, as one stack (see `protect`).
        let layers = ServiceBuilder::new()
            .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
            .layer(security_header(header::REFERRER_POLICY, "same-origin"))
            .layer(from_fn_with_state(SecurityHeaders::new(latchkey.clone(), live_reload), security_headers));
        let layers = protect(layers, &latchkey.config().inbound)
            .map_request({
                let latchkey = latchkey.clone();
                move |request| attach_request_context(&latchkey, request)
            })
            .layer(from_fn_with_state(rate_limits, limit_rates))
            .layer(from_fn_with_state(latchkey.clone(), reject_cross_origin_writes))
            // Only acts on the signed-in person's pages.
            .layer(from_fn(load_signed_in_person))
            .layer(limit_bodies());
        let router = latchkey_server::http::router(latchkey.clone()).merge(pages).layer(layers);
        let readiness = Readiness::default();
        let router = router
            .merge(built_site(&leptos_site_pkg, site.hashed))
            .merge(latchkey_server::http::operations::router(latchkey.clone(), readiness.clone()));
        // The development providers stand in for other sites: none of latchkey's own rules (the
        // same-site guard, rate limits, its headers) apply to them.
        #[cfg(feature = "dev-idp")]
        let router = router.merge(dev_idp::router(&dev_idps));
        let router = router.layer(from_fn(log_request));
        Ok(Application {
            latchkey,
            router,
            readiness,
            #[cfg(feature = "dev-idp")]
            dev_idps,
        })
    }

    pub fn latchkey(&self) -> &Latchkey {
        &self.latchkey
    }

    /// The development providers this app serves, in configuration order.
    #[cfg(feature = "dev-idp")]
    pub fn dev_idps(&self) -> &[dev_idp::MountedDevIdp] {
        &self.dev_idps
    }

    /// Serves until the process is asked to stop (Ctrl-C or SIGTERM).
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        self.serve_until(listener, shutdown_signal()).await
    }

    /// Serves until `stop` completes. Then `/readyz` answers 503 at once, no new connection is
    /// taken, and requests in flight get `LATCHKEY_SHUTDOWN_GRACE_SECONDS` to finish.
    pub async fn serve_until(
        self,
        listener: TcpListener,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Without TCP_NODELAY a response written in several pieces waits for the client's
        // delayed ACK (Nagle's algorithm): some 40 ms per keep-alive request.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        let grace = self.latchkey.config().shutdown_grace;
        let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
        let readiness = self.readiness.clone();
        let stop = async move {
            stop.await;
            readiness.begin_shutdown();
            tracing::info!(grace_seconds = grace.as_secs(), "shutting down: finishing the requests in flight");
            let _ = stopping_tx.send(true);
        };
        let serving = axum::serve(listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(stop)
            .into_future();
        let deadline = async move {
            let mut stopping = stopping_rx;
            // Waits for the shutdown to begin, then for the grace period.
            let _ = stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = serving => served,
            () = deadline => {
                tracing::warn!("the grace period ended with requests still in flight; stopping anyway");
                Ok(())
            }
        }
    }
}

/// The pages; the UI's server functions; for any other path, a file of the site's own
/// (`public/`: the favicon) or else the not-found page. Each render and server function gets what
/// `render_context` provides.
fn pages(options: Arc<LeptosOptions>, render_context: impl Fn() + Clone + Send + Sync + 'static) -> Router {
    let site_root = std::path::PathBuf::from(options.site_root.as_ref());
    let render = {
        let render_context = render_context.clone();
        move |page: Page| {
            let (options, render_context) = (options.clone(), render_context.clone());
            move |request: Request| async move {
                let (parts, _) = request.into_parts();
                respond_with(render_page(&options, parts, render_context, page).await)
            }
        }
    };
    let router = PAGES.into_iter().fold(Router::new(), |router, (path, page)| router.route(path, get(render(page))));
    let router = leptos::server_fn::axum::server_fn_paths().fold(router, |router, (path, method)| {
        let render_context = render_context.clone();
        let method = MethodFilter::try_from(method).expect("a server function's method is one axum routes");
        router.route(
            path,
            on(method, move |request: Request| leptos_axum::handle_server_fns_with_context(render_context, request)),
        )
    });
    let site_files =
        ServeDir::new(site_root).call_fallback_on_method_not_allowed(true).fallback(render(NOT_FOUND).into_service());
    router.fallback_service(site_files)
}

/// The response for a rendered page: its HTML, with the status and headers the page asked for.
fn respond_with(page: RenderedPage) -> Response {
    let mut response = Response::new(Body::from(page.html));
    let mut asked = page.response.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(status) = asked.status {
        *response.status_mut() = status;
    }
    response.headers_mut().extend(std::mem::take(&mut asked.headers));
    response.headers_mut().entry(header::CONTENT_TYPE).or_insert(HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// The hydration scripts carry the nonce the response's Content-Security-Policy names
/// (`security_headers` made it and left it in the request).
fn use_response_nonce() {
    let nonce = with_context::<axum::http::request::Parts, _>(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(nonce)) = nonce.flatten() {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

/// Under `cargo leptos watch`, pages open a live-reload socket; the policy must let them.
fn live_reload_socket(options: &LeptosOptions) -> Option<String> {
    std::env::var_os("LEPTOS_WATCH")?;
    let port = options.reload_external_port.unwrap_or(options.reload_port);
    // The page connects to its own host name, which may be either spelling of loopback.
    Some(format!("ws://{}:{port} ws://localhost:{port}", options.site_addr.ip()))
}

/// The built site (`/pkg/…`: the bundle and the stylesheet), with the brotli and gzip files
/// `cargo leptos build --release --precompress` writes beside them, and none of the pages'
/// work (no session, no nonce, no rate limit: these files are the same for everyone). Hashed
/// names (`hashed`) never change meaning, so browsers keep them for a year without asking
/// again; plain names are revalidated at every use. Served from memory (read at start-up),
/// except under `cargo leptos watch`, which rewrites them while the server runs.
fn built_site((mount, directory): &(String, std::path::PathBuf), hashed: bool) -> Router {
    let caching = if hashed { "public, max-age=31536000, immutable" } else { "public, no-cache" };
    if std::env::var_os("LEPTOS_WATCH").is_none() {
        match StaticFiles::load(directory, caching) {
            Ok(files) => return files.router(mount),
            Err(error) => {
                tracing::warn!(directory = %directory.display(), %error, "the built site could not be read; serving it from the disk")
            }
        }
    }
    let files = ServeDir::new(directory).precompressed_br().precompressed_gzip();
    Router::new()
        .nest_service(mount, files)
        .layer(security_header(header::CACHE_CONTROL, caching))
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
}

/// The built site's file names: hashed when cargo-leptos wrote its hash file (`hash-files`)
/// beside this binary, plain otherwise (a build without it, or tests without a site).
fn site_files(options: &LeptosOptions) -> SiteFiles {
    let hash_file = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join(options.hash_file.as_ref())));
    let hashes = hash_file.and_then(|path| std::fs::read_to_string(path).ok());
    latchkey_app::render::site_files_of(options, hashes.as_deref())
}

/// cargo-leptos passes the site layout in `LEPTOS_*` variables (at build and run time);
/// a binary started by hand falls back to the layout `cargo leptos build` produces.
fn leptos_options(config: &Config) -> LeptosOptions {
    let mut options = leptos::config::get_configuration(None)
        .map(|conf| conf.leptos_options)
        .unwrap_or_else(|_| LeptosOptions::builder().output_name("latchkey").site_root("target/site").build());
    if options.output_name.is_empty() {
        options.output_name = "latchkey".into();
    }
    options.site_addr = config.listen_addr;
    options
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    use super::built_site;

    async fn get(site: &axum::Router, headers: &[(header::HeaderName, &str)]) -> axum::response::Response {
        let mut request = Request::get("/pkg/latchkey.css");
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        site.clone().oneshot(request.body(Body::empty()).expect("a request")).await.expect("an answer")
    }

    #[tokio::test]
    async fn the_built_site_is_served_precompressed_and_revalidated() {
        let directory = tempfile::tempdir().expect("a directory");
        std::fs::write(directory.path().join("latchkey.css"), "body{}").expect("written");
        std::fs::write(directory.path().join("latchkey.css.br"), "brotli bytes").expect("written");
        let site = built_site(&("/pkg".to_string(), directory.path().to_path_buf()), false);

        let compressed = get(&site, &[(header::ACCEPT_ENCODING, "gzip, br")]).await;
        assert_eq!(compressed.status(), StatusCode::OK);
        assert_eq!(compressed.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(compressed.headers()[header::CACHE_CONTROL], "public, no-cache");
        assert_eq!(compressed.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let etag = compressed.headers()[header::ETAG].to_str().expect("a tag").to_string();

        let plain = get(&site, &[]).await;
        let body = axum::body::to_bytes(plain.into_body(), 1024).await.expect("a body");
        assert_eq!(&body[..], b"body{}", "without brotli in Accept-Encoding, the file itself");

        let unchanged = get(&site, &[(header::IF_NONE_MATCH, &etag)]).await;
        assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn hashed_names_are_cached_for_a_year_as_immutable() {
        let directory = tempfile::tempdir().expect("a directory");
        std::fs::write(directory.path().join("latchkey.css"), "body{}").expect("written");
        let site = built_site(&("/pkg".to_string(), directory.path().to_path_buf()), true);

        let answer = get(&site, &[]).await;

        assert_eq!(answer.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    }
}
