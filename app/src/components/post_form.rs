//! [`PostForm`]: Leptos's `ActionForm` where it can act (in the browser), the same plain
//! `<form>` where it cannot (on the server); and [`FormAction`], the action behind it.

use leptos::prelude::*;
use leptos::server_fn::client::Client;
use leptos::server_fn::codec::PostUrl;
use leptos::server_fn::request::ClientReq;
use leptos::server_fn::{Http, ServerFn};
use leptos::web_sys::FormData;
use serde::de::DeserializeOwned;

/// The server action behind a form, as its view reads it: the latest result and whether one is
/// under way. In the browser it is Leptos's `ServerAction`; on the server, where a form's action
/// never runs (a plain post goes to the server function's route), it holds nothing and reads
/// as "none yet": building the actions' signals there for nothing cost `/profile` 4 % of its
/// instructions.
pub struct FormAction<S>
where
    S: ServerFn + 'static,
    S::Output: 'static,
    S::Error: 'static,
{
    #[cfg(not(feature = "ssr"))]
    action: ServerAction<S>,
    #[cfg(not(feature = "ssr"))]
    latest: MappedSignal<Option<Result<S::Output, S::Error>>>,
    #[cfg(not(feature = "ssr"))]
    pending: Memo<bool>,
    #[cfg(feature = "ssr")]
    server_fn: std::marker::PhantomData<fn() -> S>,
}

impl<S> Clone for FormAction<S>
where
    S: ServerFn + 'static,
    S::Output: 'static,
    S::Error: 'static,
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for FormAction<S>
where
    S: ServerFn + 'static,
    S::Output: 'static,
    S::Error: 'static,
{
}

impl<S> FormAction<S>
where
    S: ServerFn + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
    S::Error: Clone + Send + Sync + 'static,
{
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        #[cfg(not(feature = "ssr"))]
        {
            let action = ServerAction::new();
            // One view of each for every reader (each `value()` and `pending()` is a new one).
            FormAction { action, latest: action.value(), pending: action.pending() }
        }
        #[cfg(feature = "ssr")]
        FormAction { server_fn: std::marker::PhantomData }
    }

    /// The latest result, tracked (`None` until the form is sent through the action).
    pub fn latest(&self) -> Option<Result<S::Output, S::Error>> {
        #[cfg(not(feature = "ssr"))]
        return self.latest.get();
        #[cfg(feature = "ssr")]
        None
    }

    /// Whether the action is under way, tracked.
    pub fn pending(&self) -> bool {
        #[cfg(not(feature = "ssr"))]
        return self.pending.get();
        #[cfg(feature = "ssr")]
        false
    }
}

/// A form that posts to the server function of `action`, with `class`.
///
/// Its children keep their type (`TypedChildren`, not `Children`): made into an `AnyView`, every
/// element of a form would be copied into owned attributes first, one allocation per attribute.
///
/// In the browser (inside an island) it is `ActionForm`: it submits through `action`, without
/// a reload. On the server it is the element `ActionForm` renders there, written directly:
/// `ActionForm` adds a submit handler and a redirect hook, which only a browser runs, and the
/// server would build them for every form of every page (a page without JavaScript, or outside
/// an island, posts the plain form). `/profile`'s three forms cost it 3 % of its instructions so.
#[component]
pub fn PostForm<S, P, C>(action: FormAction<S>, class: &'static str, children: TypedChildren<C>) -> impl IntoView
where
    C: IntoView + 'static,
    S: DeserializeOwned + ServerFn<Protocol = Http<PostUrl, P>> + Clone + Send + Sync + 'static,
    <<S::Client as Client<S::Error>>::Request as ClientReq<S::Error>>::FormData: From<FormData>,
    S::Output: Clone + Send + Sync + 'static,
    S::Error: Clone + Send + Sync + 'static,
    S::Client: Client<S::Error>,
{
    #[cfg(feature = "ssr")]
    {
        // Read in the browser only (by `ActionForm`).
        let _ = action;
        let children = children.into_inner();
        view! {
            <form action=S::url() method="post" class=class>
                {children()}
            </form>
        }
    }
    #[cfg(not(feature = "ssr"))]
    let (children, action) = (children.into_inner(), action.action);
    #[cfg(not(feature = "ssr"))]
    view! {
        <ActionForm action attr:class=class>
            {children()}
        </ActionForm>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use leptos::prelude::*;

    use super::{FormAction, PostForm};
    use crate::api::UpdateDisplayName;

    fn rendered(view: impl FnOnce() -> AnyView) -> String {
        Owner::new().with(|| view().to_html())
    }

    /// The browser hydrates `ActionForm` over what the server wrote: the two must be one element.
    #[test]
    fn the_server_writes_the_form_action_form_would() {
        let children = || view! { <button type="submit">"Save"</button> };
        let action_form = rendered(|| {
            let action = ServerAction::<UpdateDisplayName>::new();
            view! { <ActionForm action attr:class="form">{children()}</ActionForm> }.into_any()
        });
        let post_form = rendered(|| {
            let action = FormAction::<UpdateDisplayName>::new();
            view! { <PostForm action class="form">{children()}</PostForm> }.into_any()
        });
        assert!(action_form.starts_with("<form action=\"/api/update_display_name\""), "{action_form}");
        assert_eq!(post_form, action_form);
    }
}
