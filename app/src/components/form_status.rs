use leptos::prelude::*;

/// The outcome line under a form: its error (as an alert) or "Saved.".
#[component]
pub fn FormStatus(#[prop(into)] error: Signal<Option<String>>, #[prop(into)] saved: Signal<bool>) -> impl IntoView {
    view! {
        {move || error.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
        {move || saved.get().then(|| view! { <p class="form-success" role="status">"Saved."</p> })}
    }
}
