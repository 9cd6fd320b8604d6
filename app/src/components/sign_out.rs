use leptos::prelude::*;

use crate::api::routes;

/// "Sign out": a plain form post to the server, no JavaScript needed. Given the session's
/// `provider` (named when it can end its own session too), a second button signs out there
/// as well.
#[component]
pub fn SignOutButton(#[prop(optional, into)] class: Option<String>, provider: Option<String>) -> impl IntoView {
    let class = class.unwrap_or_else(|| "button button--secondary".to_string());
    let at_provider_too = provider.map(|name| {
        view! {
            <button type="submit" class=class.clone() name=routes::FROM_PROVIDER_FIELD value="1">
                {format!("Sign out of {name} too")}
            </button>
        }
    });
    view! {
        <form class="signout-form" method="post" action=routes::LOGOUT>
            <button type="submit" class=class>"Sign out"</button>
            {at_provider_too}
        </form>
    }
}
