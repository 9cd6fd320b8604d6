//! One module per route.
//!
//! Every `<Suspense>` here holds a `Suspend`, not a closure that makes one: Suspense walks its
//! children once to find what they wait for before rendering them, and a closure would build
//! the page twice. These components are rendered on the server only (islands mode), where
//! nothing re-runs, so nothing needs the closure.

pub mod accounts;
pub mod activity;
pub mod admin;
pub mod home;
pub mod not_found;
pub mod profile;
pub mod sessions;

use std::sync::{Arc, Mutex, PoisonError};

use leptos::prelude::*;

use crate::api::{LinkedProviders, Me, current_user, error_message, preloaded_person, routes};
use crate::components::{AccountNav, Brand, FormContext, PostedOutcome};
use leptos::tachys::html::InertElement;

/// Where the page being rendered is: the request's path and query. Pages render on the server
/// only (islands mode), so it is read from the request, not from a router.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageAddress {
    pub path: String,
    pub query: String,
}

impl PageAddress {
    /// The address of the request being answered (empty outside a request).
    pub fn current() -> PageAddress {
        #[cfg(feature = "ssr")]
        if let Some(address) = with_context::<http::request::Parts, _>(|parts| PageAddress {
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
        }) {
            return address;
        }
        PageAddress::default()
    }

    /// The query's first value for `name`, decoded.
    pub fn query_value(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
    }
}

/// The document's title. The page names it as it renders (`PageTitle`), which may be after
/// waiting for data; the renderer writes the document's head once the page is written.
#[derive(Clone, Debug, Default)]
pub struct DocumentTitle(Arc<Mutex<Option<String>>>);

impl DocumentTitle {
    pub fn set(&self, title: String) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(title);
    }

    pub fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Names the page's document (see `DocumentTitle`); renders nothing itself.
#[component]
pub fn PageTitle(#[prop(into)] text: String) -> impl IntoView {
    if let Some(title) = use_context::<DocumentTitle>() {
        title.set(text);
    }
}

/// The signed-in person, as the account layout loaded them for the page inside it.
#[derive(Clone)]
pub struct SignedIn {
    pub me: Arc<Me>,
}

impl SignedIn {
    /// The person, from the page's context (the account layout provides it).
    pub fn get() -> SignedIn {
        expect_context::<SignedIn>()
    }
}

/// The frame of the signed-in person's pages (`/profile`, `/accounts`, `/sessions`,
/// `/activity`): sends signed-out visitors home, shows a load error, and otherwise renders the
/// page (`children`) with the person in its context. The edge loads the person before the
/// render (`preloaded_person`), so the page renders in one pass; a render without that (another
/// composition of the app) loads them itself, under `Suspense`.
#[component]
pub fn AccountLayout(children: ChildrenFn) -> impl IntoView {
    let address = PageAddress::current();
    let page = match preloaded_person() {
        Some(person) => account_page(person, address, children),
        None => view! {
            <Suspense fallback=Loading>
                {Suspend::new(async move {
                    account_page(current_user().await.map(|me| me.map(Arc::new)), address, children)
                })}
            </Suspense>
        }
        .into_any(),
    };
    view! { <PageFrame account_nav=true>{page}</PageFrame> }
}

/// The page for the person loaded (or not), with the person and the page's forms' context.
fn account_page(person: Result<Option<Arc<Me>>, ServerFnError>, address: PageAddress, page: ChildrenFn) -> AnyView {
    match person {
        Ok(Some(me)) => {
            provide_context(FormContext {
                providers: Arc::new(LinkedProviders::of(&me)),
                posted: PostedOutcome::from_query(&address),
                here: address.path,
            });
            provide_context(SignedIn { me });
            page().into_any()
        }
        Ok(None) => signed_out_redirect(),
        Err(e) => view! { <LoadError message=error_message(&e) retry_href=address.path/> }.into_any(),
    }
}

/// The frame shared by every page: a slim header and the main column.
///
/// The signed-in person's pages pass `account_nav` to get the navigation
/// between them in the header.
#[component]
pub fn PageFrame(#[prop(optional)] account_nav: bool, children: Children) -> impl IntoView {
    let current = account_nav.then(|| PageAddress::current().path);
    view! {
        {InertElement::new(site_header(current.as_deref()))}
        <main class="page" id="main">
            {children()}
        </main>
    }
}

/// The page header's HTML: the brand, and on the signed-in person's pages (`current`: the page's
/// path) the navigation between them. It is the same for everyone, so each variant is rendered
/// once, when first asked for, and written as it is from then on (rendered for every page it
/// cost `/profile` 13,900 instructions of 384,000); it is outside every island, so no browser
/// hydrates it.
fn site_header(current: Option<&str>) -> &'static str {
    use std::sync::OnceLock;
    const VARIANTS: usize = routes::ACCOUNT_PAGES.len() + 2;
    static RENDERED: [OnceLock<String>; VARIANTS] = [const { OnceLock::new() }; VARIANTS];
    // 0: no navigation; 1: navigation with no current page; then one per account page.
    let (variant, here) = match current {
        None => (0, None),
        Some(path) => match routes::ACCOUNT_PAGES.iter().position(|page| *page == path) {
            Some(index) => (index + 2, Some(routes::ACCOUNT_PAGES[index])),
            None => (1, Some("")),
        },
    };
    RENDERED[variant].get_or_init(|| {
        Owner::new().with(|| {
            view! {
                <header class="site-header">
                    <Brand/>
                    {here.map(|here| view! { <AccountNav here/> })}
                </header>
            }
            .to_html()
        })
    })
}

/// A card telling people something went wrong while loading a page.
#[component]
pub fn LoadError(message: String, #[prop(into)] retry_href: String) -> impl IntoView {
    view! {
        <section class="card card--error" role="alert">
            <h1>"Something went wrong"</h1>
            <p>{message}</p>
            <p class="actions">
                <a class="button" href=retry_href rel="external">"Try again"</a>
                " "
                <a class="button button--secondary" href=routes::HOME>"Home"</a>
            </p>
        </section>
    }
}

/// Placeholder while a page's data loads (pages are sent once their data is there, so
/// only a streamed render would show it).
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <section class="card card--loading" aria-busy="true">
            <p class="muted">"Loading…"</p>
        </section>
    }
}

/// What a signed-in-only page shows a signed-out visitor: a redirect home. Pages render on
/// the server only, so the response's `302` is all of it.
pub(crate) fn signed_out_redirect() -> AnyView {
    redirect_on_server(routes::HOME);
    ().into_any()
}

/// A real `302 Found` for the page request, whatever its `Accept` header.
pub(crate) fn redirect_on_server(_path: &'static str) {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::FOUND);
        response.insert_header(http::header::LOCATION, http::HeaderValue::from_static(_path));
    }
}
