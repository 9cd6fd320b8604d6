//! Pages rendered into whole HTML documents. Pages render on the server only (islands mode: the
//! browser hydrates the islands in them, nothing else), so no router runs: axum routes each path
//! to its page (`PAGES`), and an unknown path gets `NOT_FOUND`.
//!
//! The page renders into the body first, once everything it waits for has resolved; the head is
//! written after it, with the title the page named (`PageTitle`) and the response's nonce.
//! Rendered through leptos_axum's router, `/profile` cost a third more instructions: the router
//! parsed the URL twice and kept the location in signals, leptos_meta searched the finished page
//! for where the head ends to put the title there, and the page went out as a stream.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use html_escape::encode_double_quoted_attribute as escape_attribute;
use hydration_context::{SharedContext, SsrSharedContext};
use latchkey_types::SiteFiles;
use leptos::config::LeptosOptions;
use leptos::prelude::*;
use leptos::reactive::owner::Sandboxed;
use leptos_axum::ResponseOptions;

use crate::api::routes;
use crate::pages::{
    AccountLayout, DocumentTitle,
    accounts::AccountsPage,
    activity::SecurityActivityPage,
    admin::{AdminUserPage, AdminUsersPage},
    home::HomePage,
    not_found::NotFound,
    profile::ProfilePage,
    sessions::SessionsPage,
};

/// What renders one page.
pub type Page = fn() -> AnyView;

/// Every page, by its path (in axum's syntax).
pub const PAGES: [(&str, Page); 7] = [
    (routes::HOME, || HomePage().into_any()),
    (routes::PROFILE, || in_account_layout(ProfilePage)),
    (routes::ACCOUNTS, || in_account_layout(AccountsPage)),
    (routes::SESSIONS, || in_account_layout(SessionsPage)),
    (routes::ACTIVITY, || in_account_layout(SecurityActivityPage)),
    (routes::ADMIN_USERS, || AdminUsersPage().into_any()),
    (routes::ADMIN_USER_TEMPLATE, || AdminUserPage().into_any()),
];

/// The page for any other path (answered with `404`).
pub const NOT_FOUND: Page = || NotFound().into_any();

/// One of the signed-in person's pages, in the account layout.
fn in_account_layout<Page: IntoView + 'static>(page: fn() -> Page) -> AnyView {
    view! { <AccountLayout>{page()}</AccountLayout> }.into_any()
}

/// A rendered page: the document, and what the page asked of the response (its status, headers).
pub struct RenderedPage {
    pub html: String,
    pub response: ResponseOptions,
}

/// Renders `page` for the request `parts` into a whole document, once everything it waits for
/// has resolved. `contexts` provides what the server gives every render (the core, the site's
/// files, the nonce); the request's parts and the response's options are provided here, as
/// leptos_axum provides them to server functions.
pub async fn render_page(
    options: &LeptosOptions,
    parts: http::request::Parts,
    contexts: impl FnOnce(),
    page: Page,
) -> RenderedPage {
    static EXECUTOR: std::sync::Once = std::sync::Once::new();
    // What a page waits for (a `Resource`) is spawned on tokio, the server's runtime.
    EXECUTOR.call_once(|| _ = any_spawner::Executor::init_tokio());
    let shared: Arc<dyn SharedContext + Send + Sync> = Arc::new(SsrSharedContext::new());
    // Only islands hydrate: nothing outside them is serialized for the browser.
    shared.set_is_hydrating(false);
    let owner = Owner::new_root(Some(shared));
    let response = ResponseOptions::default();
    let title = DocumentTitle::default();
    let body = owner.with(|| {
        provide_context(parts);
        provide_context(response.clone());
        provide_context(title.clone());
        contexts();
        // Polled with the page's owner current, as what it waits for expects.
        Sandboxed::new(concatenated(page().to_html_stream_in_order()))
    });
    let body = body.await;
    let html = owner.with(|| document(options, title.take(), &body));
    owner.unset_with_forced_cleanup();
    RenderedPage { html, response }
}

/// The stream's chunks as one string. The first is kept, not copied: a page that waits for
/// nothing is one chunk.
async fn concatenated(mut chunks: impl Stream<Item = String> + Unpin) -> String {
    let mut all = String::new();
    while let Some(chunk) = chunks.next().await {
        if all.is_empty() {
            all = chunk;
        } else {
            all.push_str(&chunk);
        }
    }
    all
}

/// The document around a rendered body: the head (see `head_parts`) with the response's nonce
/// and the page's title. Its parts are measured, then copied once into the document.
fn document(options: &LeptosOptions, title: Option<String>, body: &str) -> String {
    let auto_reload =
        if watching() { view! { <AutoReload options=options.clone()/> }.to_html() } else { String::new() };
    let nonce = leptos::nonce::use_nonce()
        .map(|nonce| format!(r#" nonce="{}""#, escape_attribute(&nonce.to_string())))
        .unwrap_or_default();
    let [before, between, after] = &*head_parts(&site_files(options));
    let title = html_escape::encode_text(title.as_deref().unwrap_or("latchkey"));
    [
        r#"<!DOCTYPE html><html lang="en"><head>"#,
        &auto_reload,
        before,
        &nonce,
        between,
        &nonce,
        after,
        "<title>",
        &title,
        "</title></head><body>",
        body,
        "</body></html>",
    ]
    .concat()
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
/// cost `/profile` 4,300 instructions more, of 370,000). Here in three parts, the nonce
/// attribute between them; written for the first page of a build and kept.
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
