use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{ActionError, routes};
use crate::pages::SignedIn;

/// One form's outcome: `Ok` once it did its work, or why it did not.
pub type Outcome = Option<Result<(), ActionError>>;

/// A form's outcome: the hydrated action's latest, else what a plain form post's redirect
/// left in the query (`?done=<form>`, or `?form=<form>&problem=…`).
pub fn form_outcome<T: Send + Sync + 'static>(
    latest: impl Fn() -> Option<Result<T, ActionError>> + Send + Sync + 'static,
    form: &'static str,
) -> Signal<Outcome> {
    let query = use_query_map();
    Signal::derive(move || match latest() {
        Some(result) => Some(result.map(|_| ())),
        None => {
            let query = query.read();
            if query.get("done").as_deref() == Some(form) {
                Some(Ok(()))
            } else if query.get("form").as_deref() == Some(form) {
                let problem = query.get("problem")?;
                ActionError::from_query(&problem, query.get("provider").as_deref()).map(Err)
            } else {
                None
            }
        }
    })
}

/// The outcome line under a form: its error (as an alert, with a way to sign in again when
/// that is what it needs) or what was done.
#[component]
pub fn FormStatus(
    #[prop(into)] outcome: Signal<Outcome>,
    /// What success says.
    #[prop(default = "Saved.")]
    done: &'static str,
) -> impl IntoView {
    let signed_in = use_context::<SignedIn>();
    move || match outcome.get() {
        Some(Err(error)) => {
            let me = signed_in.as_ref().map(|s| &s.me);
            let sign_in_again = (error == ActionError::RecentSignInNeeded).then(|| {
                let mut providers = Vec::new();
                for identity in me.map(|me| me.identities.as_slice()).unwrap_or_default() {
                    if !providers.iter().any(|(id, _)| id == &identity.provider) {
                        providers.push((identity.provider.clone(), identity.provider_name.clone()));
                    }
                }
                // The page itself is where to come back to; `rel="external"`: signing in is a
                // full-page navigation to the server.
                let here = leptos_router::hooks::use_location().pathname.get_untracked();
                view! {
                    <span class="actions">
                        {providers
                            .into_iter()
                            .map(|(id, name)| {
                                let href = routes::login(&id, &here);
                                view! {
                                    " "
                                    <a class="button button--small" href=href rel="external">
                                        {format!("Sign in again with {name}")}
                                    </a>
                                }
                            })
                            .collect_view()}
                    </span>
                }
            });
            view! { <p class="form-error" role="alert">{error.message(me)} {sign_in_again}</p> }.into_any()
        }
        Some(Ok(())) => view! { <p class="form-success" role="status">{done}</p> }.into_any(),
        None => ().into_any(),
    }
}
