use leptos::prelude::*;

use crate::api::routes;

/// "Sign out": a plain form post to the server, no JavaScript needed.
#[component]
pub fn SignOutButton(#[prop(optional, into)] class: Option<String>) -> impl IntoView {
    let class = class.unwrap_or_else(|| "button button--secondary".to_string());
    view! {
        <form class="signout-form" method="post" action=routes::LOGOUT>
            <button type="submit" class=class>"Sign out"</button>
        </form>
    }
}
