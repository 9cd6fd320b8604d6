//! [`PostForm`]: Leptos's `ActionForm` where it can act (in the browser), the same plain
//! `<form>` where it cannot (on the server).

use leptos::prelude::*;
use leptos::server_fn::client::Client;
use leptos::server_fn::codec::PostUrl;
use leptos::server_fn::request::ClientReq;
use leptos::server_fn::{Http, ServerFn};
use leptos::web_sys::FormData;
use serde::de::DeserializeOwned;

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
pub fn PostForm<S, P, C>(action: ServerAction<S>, class: &'static str, children: TypedChildren<C>) -> impl IntoView
where
    C: IntoView + 'static,
    S: DeserializeOwned + ServerFn<Protocol = Http<PostUrl, P>> + Clone + Send + Sync + 'static,
    <<S::Client as Client<S::Error>>::Request as ClientReq<S::Error>>::FormData: From<FormData>,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
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
    let children = children.into_inner();
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

    use super::PostForm;
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
            let action = ServerAction::<UpdateDisplayName>::new();
            view! { <PostForm action class="form">{children()}</PostForm> }.into_any()
        });
        assert!(action_form.starts_with("<form action=\"/api/update_display_name\""), "{action_form}");
        assert_eq!(post_form, action_form);
    }
}
