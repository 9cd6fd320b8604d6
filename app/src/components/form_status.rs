use std::sync::Arc;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{ActionError, LinkedProviders, routes};
use crate::pages::PageAddress;

/// One form's outcome: `Ok` once it did its work, or why it did not.
pub type Outcome = Option<Result<(), ActionError>>;

/// What a plain form post's redirect left in the page's query: `?done=<form>`, or
/// `?form=<form>&problem=…` (and `provider=…`). Read on the server, where the page renders, and
/// handed to islands as a prop.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostedOutcome {
    // Mostly empty: an island's props then say nothing of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    done: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    form: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<String>,
}

impl PostedOutcome {
    /// From the page's query.
    pub fn from_query(address: &PageAddress) -> PostedOutcome {
        PostedOutcome {
            done: address.query_value("done"),
            form: address.query_value("form"),
            problem: address.query_value("problem"),
            provider: address.query_value("provider"),
        }
    }

    fn outcome_of(&self, form: &str) -> Outcome {
        if self.done.as_deref() == Some(form) {
            Some(Ok(()))
        } else if self.form.as_deref() == Some(form) {
            ActionError::from_query(self.problem.as_deref()?, self.provider.as_deref()).map(Err)
        } else {
            None
        }
    }
}

/// What the forms of a page need to word their outcomes: the providers of the signed-in
/// person's linked accounts (to name them, and to sign in again with), the page's path, and
/// what a plain post left in the query. Every form of a page reads it, so the providers are
/// shared, not copied.
#[derive(Clone, Debug)]
pub struct FormContext {
    pub providers: Arc<LinkedProviders>,
    pub here: String,
    pub posted: PostedOutcome,
}

/// A form's outcome: the hydrated action's latest, else what a plain form post's redirect
/// left in the query (see [`PostedOutcome`]).
pub fn form_outcome<T: Send + Sync + 'static>(
    latest: impl Fn() -> Option<Result<T, ActionError>> + Send + Sync + 'static,
    form: &'static str,
) -> Signal<Outcome> {
    let posted = use_context::<FormContext>().map(|context| context.posted.outcome_of(form)).unwrap_or_default();
    Signal::derive(move || match latest() {
        Some(result) => Some(result.map(|_| ())),
        None => posted.clone(),
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
    let context = use_context::<FormContext>();
    move || match outcome.get() {
        Some(Err(error)) => {
            let providers = context.as_ref().map(|context| context.providers.as_ref());
            let sign_in_again = (error == ActionError::RecentSignInNeeded).then(|| {
                // The page itself is where to come back to.
                let here = context.as_ref().map_or(routes::HOME, |context| context.here.as_str());
                view! {
                    <span class="actions">
                        {providers
                            .into_iter()
                            .flat_map(LinkedProviders::iter)
                            .map(|(id, name)| {
                                let href = routes::login(id, here);
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
            view! { <p class="form-error" role="alert">{error.message(providers)} {sign_in_again}</p> }.into_any()
        }
        Some(Ok(())) => view! { <p class="form-success" role="status">{done}</p> }.into_any(),
        None => ().into_any(),
    }
}
