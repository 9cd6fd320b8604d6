//! latchkey's user interface: the HTML shell, the router, pages, components and
//! the server functions they call.
//!
//! Components only ever see the shared types (`latchkey-types`, re-exported by [`api`]);
//! everything that touches the sign-in core (`latchkey-server`) lives behind
//! `feature = "ssr"`.

// The pages' view types nest deeply (their layouts are computed where they are boxed).
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod format;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod render;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{FlatRoutes, Route, Router},
};

use crate::api::routes::segment;
use crate::components::OnePass;
use crate::pages::{
    admin::{AdminUserPage, AdminUsersPage},
    home::HomePage,
    not_found::NotFound,
};
use html_escape::encode_double_quoted_attribute as escape_attribute;
use latchkey_types::SiteFiles;
use std::sync::Arc;

/// The HTML document around the app, rendered on the server for every page.
pub fn shell(options: &LeptosOptions) -> impl IntoView + use<> {
    let site = site_files(options);
    let auto_reload = watching().then(|| view! { <AutoReload options=options.clone()/> });
    view! {
        <!DOCTYPE html>
        <html lang="en">
            // Waits for nothing (see `OnePass`).
            {OnePass(view! {
                <head>
                    {auto_reload}
                    <DocumentHead site/>
                    <MetaTags/>
                </head>
            })}
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Under `cargo leptos watch` (which sets `LEPTOS_WATCH`), pages open its live-reload socket.
fn watching() -> bool {
    static WATCHING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WATCHING.get_or_init(|| std::env::var_os("LEPTOS_WATCH").is_some())
}

/// The document head's own tags: the metadata, the stylesheet, and what loads the browser
/// bundle and hydrates the page's islands (the only parts that run in the browser; everything
/// else is server-rendered HTML), with the response's script nonce on every tag and the file
/// names the server found for this build (hashed, see `SiteFiles`). Leptos's
/// `HydrationScripts` puts the nonce of its module preload into `crossorigin` (so the
/// Content-Security-Policy blocks the preload); this is its islands mode, written out.
///
/// All but the nonce is the same for every page of a build: that HTML is written once per
/// build and the nonce put between its parts (nine elements written one by one on every page
/// cost `/profile` 4,300 instructions more, of 370,000).
#[component]
fn DocumentHead(site: Arc<SiteFiles>) -> impl IntoView {
    // Only islands hydrate: nothing outside them is serialized for the browser.
    #[cfg(feature = "ssr")]
    if let Some(context) = Owner::current_shared_context() {
        context.set_is_hydrating(false);
    }
    leptos::tachys::html::InertElement::new(document_head(&site))
}

/// The document head's tags (see `DocumentHead`), with the nonce of the response in context.
fn document_head(site: &SiteFiles) -> String {
    let nonce = leptos::nonce::use_nonce()
        .map(|nonce| format!(r#" nonce="{}""#, escape_attribute(&nonce.to_string())))
        .unwrap_or_default();
    let [before, between, after] = &*head_parts(site);
    format!("{before}{nonce}{between}{nonce}{after}")
}

/// The document head's HTML for one build's files, in three parts: the nonce attribute goes
/// between them. Written for the first page of a build and kept.
fn head_parts(site: &SiteFiles) -> Arc<[String; 3]> {
    static WRITTEN: std::sync::Mutex<Option<(SiteFiles, Arc<[String; 3]>)>> = std::sync::Mutex::new(None);
    let mut written = WRITTEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match &*written {
        Some((for_site, parts)) if for_site == site => parts.clone(),
        _ => {
            let parts = Arc::new(write_head_parts(site));
            *written = Some((site.clone(), parts.clone()));
            parts
        }
    }
}

fn write_head_parts(site: &SiteFiles) -> [String; 3] {
    let (stylesheet, script, wasm) =
        (escape_attribute(&site.stylesheet), escape_attribute(&site.script), escape_attribute(&site.wasm));
    let module = format!(
        "import init, * as bundle from {js:?};\n{ISLANDS}\ninit({{ module_or_path: {wasm:?} }}).then(() => hydrateIslands(bundle));",
        js = site.script,
        wasm = site.wasm,
    );
    [
        format!(
            concat!(
                r#"<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">"#,
                r#"<meta name="color-scheme" content="light dark">"#,
                r#"<meta name="description" content="latchkey: sign in with the accounts you already have.">"#,
                r#"<link rel="icon" type="image/svg+xml" href="/favicon.svg">"#,
                r#"<link rel="stylesheet" id="leptos" href="{stylesheet}"><link rel="modulepreload" href="{script}""#,
            ),
            stylesheet = stylesheet,
            script = script,
        ),
        format!(
            r#"><link rel="preload" href="{wasm}" as="fetch" type="application/wasm" crossorigin=""><script type="module""#
        ),
        format!(">{}</script>", module.replace("</", "<\\/")),
    ]
}

/// Runs the bundle's `hydrate`, then each island's function on its element (named by
/// `data-component`), outer islands before those inside them.
const ISLANDS: &str = r#"function hydrateIslands(bundle) {
  bundle.hydrate();
  for (const island of document.querySelectorAll("leptos-island")) {
    const hydrateIsland = bundle[island.dataset.component];
    if (hydrateIsland) hydrateIsland(island);
    else console.warn("no function in the bundle for island", island.dataset.component);
  }
}"#;

/// The built site's file names for this response, as the server found them at start-up (or,
/// without that, the plain names).
fn site_files(options: &LeptosOptions) -> Arc<SiteFiles> {
    use_context::<Arc<SiteFiles>>().unwrap_or_else(|| Arc::new(site_files_of(options, None)))
}

/// The built site's file names: hashed as `hashes` (cargo-leptos's hash file) says, else plain.
pub fn site_files_of(options: &LeptosOptions, hashes: Option<&str>) -> SiteFiles {
    let pkg = format!("/{}", options.site_pkg_dir);
    // cargo-leptos names the module `<name>.wasm`; plain wasm-bindgen output is `<name>_bg.wasm`.
    let wasm = if option_env!("LEPTOS_OUTPUT_NAME").is_some() {
        options.output_name.to_string()
    } else {
        format!("{}_bg", options.output_name)
    };
    SiteFiles::new(&pkg, &options.output_name, &wasm, hashes)
}

/// The application: metadata, stylesheet and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Title text="latchkey"/>
        <Router>
            // Flat: the account layout wraps each of its pages itself (one level of routes costs
            // a page a tenth less to render than a layout route around the pages).
            <FlatRoutes fallback=|| view! { <NotFound/> }>
                // Async: the page is sent once its data has resolved, so it reads
                // fine without JavaScript and a redirect can still set headers.
                <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async/>
                <Route
                    path=(StaticSegment(segment::ADMIN), StaticSegment(segment::USERS))
                    view=AdminUsersPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment(segment::ADMIN), StaticSegment(segment::USERS), ParamSegment("id"))
                    view=AdminUserPage
                    ssr=SsrMode::Async
                />
            </FlatRoutes>
        </Router>
    }
}

/// Entry point of the browser bundle.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
