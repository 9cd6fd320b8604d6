use std::sync::Arc;

use leptos::prelude::*;

use crate::{
    api::{
        ActionError, ConfirmPendingLink, DismissPendingLink, Identity, Me, PendingLinkInfo, ProviderSummary,
        RefreshIdentityProfile, TokenStatus, UnlinkIdentity, error_message, pending_link, routes, sign_in_providers,
    },
    components::{EmailWithBadge, FormAction, FormStatus, PostForm, ProviderLinkForm, Timestamp, form_outcome},
    pages::{LoadError, Loading, PageTitle, SignedIn},
};

/// The changes this page makes; every form on it shares them, and the outcome of each is
/// shown at the top of the page.
#[derive(Clone, Copy)]
struct Actions {
    unlink: FormAction<UnlinkIdentity>,
    refresh: FormAction<RefreshIdentityProfile>,
    confirm: FormAction<ConfirmPendingLink>,
    dismiss: FormAction<DismissPendingLink>,
}

/// `/accounts`: the provider accounts people can sign in with, a pending link to confirm,
/// and buttons to link more.
#[component]
pub fn AccountsPage() -> impl IntoView {
    let signed_in = SignedIn::get();
    let pending = Resource::new(|| (), |_| pending_link());
    let providers = Resource::new(|| (), |_| sign_in_providers());
    let actions = Actions {
        unlink: FormAction::new(),
        refresh: FormAction::new(),
        confirm: FormAction::new(),
        dismiss: FormAction::new(),
    };
    let me = signed_in.me;

    view! {
        <PageTitle text="Linked accounts · latchkey"/>
        <Suspense fallback=Loading>
            {Suspend::new(async move {
                    match (pending.await, providers.await) {
                        (Ok(pending), Ok(providers)) => {
                            view! { <LinkedAccounts me pending providers actions/> }.into_any()
                        }
                        (Err(e), _) | (_, Err(e)) => view! {
                            <LoadError message=error_message(&e) retry_href=routes::ACCOUNTS/>
                        }
                        .into_any(),
                    }
                })}
        </Suspense>
    }
    .into_any()
}

/// What the last change on this page did, or why it did not.
#[component]
fn ActionsStatus(actions: Actions) -> impl IntoView {
    view! {
        <div class="page-status" aria-live="polite">
            <FormStatus outcome=form_outcome(move || actions.unlink.latest(), "unlinked") done="Unlinked."/>
            <FormStatus
                outcome=form_outcome(move || actions.refresh.latest(), "refreshed")
                done="Profile refreshed."
            />
            <FormStatus outcome=form_outcome(move || actions.confirm.latest(), "linked") done="Linked."/>
            <FormStatus outcome=form_outcome(move || actions.dismiss.latest(), "dismissed") done="Not linked."/>
            // Starting a link is a plain post to the core, which sends refusals back here.
            <FormStatus outcome=form_outcome(|| None::<Result<(), ActionError>>, "link")/>
        </div>
    }
}

#[component]
fn LinkedAccounts(
    me: Arc<Me>,
    pending: Option<PendingLinkInfo>,
    providers: Vec<ProviderSummary>,
    actions: Actions,
) -> impl IntoView {
    let only_one = me.identities.len() <= 1;
    let reauth_note = (!me.recently_signed_in && !only_one).then(|| {
        view! {
            <p class="note">
                "For your safety, unlinking an account asks you to sign in again first."
            </p>
        }
    });
    let add = if providers.is_empty() {
        view! { <p class="muted">"No sign-in providers are configured."</p> }.into_any()
    } else {
        view! {
            <ul class="providers" aria-label="Providers you can link">
                {providers
                    .into_iter()
                    .map(|provider| view! { <li><ProviderLinkForm provider/></li> })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };

    view! {
        <section class="card card--profile" aria-labelledby="accounts-title">
            <h1 id="accounts-title">"Linked accounts"</h1>
            <p class="lede">"You can sign in to latchkey with any of these accounts."</p>

            <ActionsStatus actions/>
            {pending.map(|pending| view! { <PendingLinkBanner pending actions/> })}

            {reauth_note}
            // Names the list for the headings inside it (one per account), so no level is skipped.
            <h2 class="visually-hidden">"Accounts you sign in with"</h2>
            <ul class="linked-list">
                {me
                    .identities
                    .iter()
                    .cloned()
                    .enumerate()
                    .map(|(index, identity)| {
                        view! { <li><LinkedIdentity identity index only_one actions/></li> }
                    })
                    .collect_view()}
            </ul>

            <section class="panel" aria-labelledby="add-title">
                <h2 id="add-title">"Add a sign-in method"</h2>
                <p class="muted">
                    "Link another account, even a second one from the same provider, and sign in with whichever is at hand."
                </p>
                {add}
            </section>
        </section>
    }
    .into_any()
}

/// "Link your … account?": an account someone signed in with, waiting to be
/// linked to this one.
#[component]
fn PendingLinkBanner(pending: PendingLinkInfo, actions: Actions) -> impl IntoView {
    // One text node, so the sentence reads (and is found) as a whole.
    let question = match pending.email.as_deref().or(pending.name.as_deref()) {
        Some(who) => format!("Link your {} account ({})?", pending.provider_name, who),
        None => format!("Link your {} account?", pending.provider_name),
    };
    let explanation = format!(
        "You just signed in with this {} account. Link it, and you can sign in here with either account.",
        pending.provider_name
    );
    view! {
        <section class="banner" aria-labelledby="pending-title">
            <h2 id="pending-title" class="banner__title">{question}</h2>
            <p class="banner__text">{explanation}</p>
            <div class="banner__actions">
                <PostForm action=actions.confirm class="inline-form">
                    <button type="submit" class="button">"Link it"</button>
                </PostForm>
                <PostForm action=actions.dismiss class="inline-form">
                    <button type="submit" class="button button--secondary">"Not now"</button>
                </PostForm>
            </div>
        </section>
    }
    .into_any()
}

/// One linked account, with its "Unlink" form.
#[component]
fn LinkedIdentity(identity: Identity, index: usize, only_one: bool, actions: Actions) -> impl IntoView {
    let title_id = format!("identity-{index}");
    let note_id = format!("identity-{index}-note");
    let heading_id = title_id.clone();
    let identity_id = identity.id.to_string();

    let email = match identity.email.clone() {
        Some(email) => view! {
            <p class="linked__email">
                <EmailWithBadge email verified=identity.email_verified/>
            </p>
        }
        .into_any(),
        None => view! { <p class="linked__email muted">"No email shared"</p> }.into_any(),
    };
    let name =
        identity.name.clone().filter(|n| !n.trim().is_empty()).map(|n| view! { <p class="linked__name">{n}</p> });

    let access = identity
        .token_status
        .map(|state| view! { <ProviderAccess identity=identity.clone() state title_id=title_id.clone() actions/> });

    let unlink = if only_one {
        view! {
            <button
                type="submit"
                class="button button--secondary"
                disabled
                aria-describedby=note_id.clone()
            >
                "Unlink"
            </button>
            <p id=note_id class="linked__note">
                "Your only way to sign in. Link another account before removing this one."
            </p>
        }
        .into_any()
    } else {
        // `aria-describedby` says which account, without changing the button's name.
        view! {
            <button type="submit" class="button button--secondary" aria-describedby=title_id.clone()>
                "Unlink"
            </button>
        }
        .into_any()
    };

    view! {
        <article class="linked" aria-labelledby=title_id.clone()>
            <div class="linked__body">
                <h3 id=heading_id class="linked__provider">{identity.provider_name.clone()}</h3>
                {name}
                {email}
                <p class="linked__dates">
                    <Timestamp label="Linked " at=identity.linked_at/>
                    <Timestamp label="Last used " at=identity.last_used_at/>
                </p>
                {access}
            </div>
            <PostForm action=actions.unlink class="linked__action">
                <input type="hidden" name="identity" value=identity_id/>
                {unlink}
            </PostForm>
        </article>
    }
    .into_any()
}

/// "Provider access": the scopes the provider granted, whether latchkey's
/// tokens still work, and what to do about it (refresh the profile with them,
/// or sign in with the provider again when it refused a refresh).
#[component]
fn ProviderAccess(identity: Identity, state: TokenStatus, title_id: String, actions: Actions) -> impl IntoView {
    let (badge_class, badge) = match state {
        TokenStatus::Ok => ("badge badge--verified", "Connected"),
        TokenStatus::Expired => ("badge badge--pending", "Will refresh"),
        TokenStatus::ReconnectNeeded => ("badge badge--unverified", "Reconnect needed"),
    };
    let scopes = (!identity.token_scopes.is_empty()).then(|| {
        view! {
            <ul class="scopes" aria-label="Granted scopes">
                {identity
                    .token_scopes
                    .iter()
                    .map(|scope| view! { <li><code class="scope">{scope.clone()}</code></li> })
                    .collect_view()}
            </ul>
        }
    });

    let follow_up = match state {
        TokenStatus::Ok | TokenStatus::Expired => view! {
            <PostForm action=actions.refresh class="access__form">
                <input type="hidden" name="identity" value=identity.id.to_string()/>
                <button
                    type="submit"
                    class="button button--secondary button--small"
                    aria-describedby=title_id
                >
                    "Refresh profile from provider"
                </button>
            </PostForm>
        }
        .into_any(),
        TokenStatus::ReconnectNeeded => {
            // One text node, so the sentence reads (and is found) as a whole.
            let sentence = format!(
                "The provider no longer accepts latchkey's access. Sign in with {} again to reconnect.",
                identity.provider_name
            );
            // `rel="external"`: signing in is a full-page navigation to the server.
            view! {
                <p class="access__warning">
                    {sentence}
                    " "
                    <a href=routes::login(&identity.provider, routes::ACCOUNTS) rel="external" aria-describedby=title_id>
                        "Reconnect"
                    </a>
                </p>
            }
            .into_any()
        }
    };

    view! {
        <div class="access">
            <div class="access__line">
                <span class="access__label">"Provider access"</span>
                " "
                <span class=badge_class>{badge}</span>
                " "
                {scopes}
            </div>
            {follow_up}
        </div>
    }
    .into_any()
}
