use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{DeleteAccount, Identity, Me, UpdateDisplayName, UpdateProfile, routes},
    components::{Avatar, EmailWithBadge, FormContext, FormStatus, PostedOutcome, SignOutButton, form_outcome},
    pages::SignedIn,
};

/// `/profile`: the signed-in person's account (inside the account layout, which sends
/// anyone else home). The card is an island: its forms save without a reload, and the
/// header follows what they saved.
#[component]
pub fn ProfilePage() -> impl IntoView {
    let me = SignedIn::get().me;
    // What a plain post left in the query, as the account layout read it.
    let posted = use_context::<FormContext>().map(|context| context.posted).unwrap_or_default();
    view! {
        <Title text="Your profile · latchkey"/>
        <ProfileCard me=Me::clone(&me) posted/>
    }
}

/// The profile card; `posted` is what a plain form post left in the page's query.
#[island]
fn ProfileCard(me: Me, posted: PostedOutcome) -> impl IntoView {
    let me = Arc::new(me);
    provide_context(FormContext { me: Some(Arc::clone(&me)), here: routes::PROFILE.to_string(), posted });
    let update = ServerAction::<UpdateDisplayName>::new();

    // The name as stored: starts from the page's data, follows successful saves.
    let name = RwSignal::new(me.name.clone());
    Effect::new(move |_| {
        if let Some(Ok(saved)) = update.value().get() {
            name.set(saved);
        }
    });
    let outcome = form_outcome(move || update.value().get(), "name");
    let invalid = move || matches!(outcome.get(), Some(Err(_)));
    let pending = update.pending();

    // The primary email and picture as stored: follow the other form's saves.
    let update_profile = ServerAction::<UpdateProfile>::new();
    let email = RwSignal::new(me.email.clone());
    let picture = RwSignal::new(me.picture.clone());
    Effect::new(move |_| {
        if let Some(Ok(saved)) = update_profile.value().get() {
            email.set(saved.email);
            picture.set(saved.picture);
        }
    });
    let seed = me.id.to_string();
    let choices = Arc::clone(&me);
    let (stored_name, recently_signed_in, provider_sign_out) =
        (me.name.clone(), me.recently_signed_in, me.provider_sign_out.clone());

    let session_identity = me.session_identity().cloned();
    let other_identities: Vec<Identity> =
        me.identities.iter().filter(|i| session_identity.as_ref() != Some(*i)).cloned().collect();

    view! {
        <section class="card card--profile" aria-labelledby="profile-name">
            <header class="profile-header">
                {move || {
                    view! { <Avatar name=name picture=picture.get() seed=seed.clone()/> }
                }}
                <div class="profile-header__text">
                    <h1 id="profile-name" class="profile-name">{move || name.get()}</h1>
                    {move || match email.get() {
                        Some(email) => view! { <p class="profile-email">{email}</p> }.into_any(),
                        None => view! { <p class="profile-email muted">"No email address"</p> }.into_any(),
                    }}
                </div>
            </header>

            <section class="panel" aria-labelledby="session-title">
                <h2 id="session-title">"This session"</h2>
                {match session_identity {
                    Some(identity) => view! { <IdentityDetails identity/> }.into_any(),
                    None => view! { <p class="muted">"Signed in."</p> }.into_any(),
                }}
            </section>

            <section class="panel" aria-labelledby="edit-title">
                <h2 id="edit-title">"Your profile"</h2>
                <ActionForm action=update attr:class="form">
                    <div class="field">
                        <label for="display-name">"Display name"</label>
                        <div class="field__row">
                            <input
                                id="display-name"
                                name="display_name"
                                type="text"
                                autocomplete="nickname"
                                spellcheck="false"
                                value=stored_name
                                prop:value=move || name.get()
                                aria-invalid=move || if invalid() { "true" } else { "false" }
                                aria-describedby="display-name-help display-name-message"
                            />
                            <button
                                type="submit"
                                class="button"
                                aria-busy=move || if pending.get() { "true" } else { "false" }
                            >
                                "Save"
                            </button>
                        </div>
                        <p id="display-name-help" class="field__help">
                            "How latchkey greets you. Other apps may show it too."
                        </p>
                        <div id="display-name-message" class="field__message">
                            <FormStatus outcome/>
                        </div>
                    </div>
                </ActionForm>
            </section>

            <ProfileChoices me=choices action=update_profile/>

            {(!other_identities.is_empty())
                .then(|| {
                    view! {
                        <section class="panel" aria-labelledby="linked-title">
                            <h2 id="linked-title">"Also linked"</h2>
                            <ul class="identity-list">
                                {other_identities
                                    .into_iter()
                                    .map(|identity| view! { <li><IdentityDetails identity/></li> })
                                    .collect_view()}
                            </ul>
                        </section>
                    }
                })}

            <DeleteAccount recently_signed_in/>

            <footer class="card__footer">
                <a class="button button--secondary" href=routes::HOME>"Home"</a>
                <SignOutButton provider=provider_sign_out/>
            </footer>
        </section>
    }
    .into_any()
}

/// "Primary email" and "Picture": chosen among what the linked accounts share.
#[component]
fn ProfileChoices(me: Arc<Me>, action: ServerAction<UpdateProfile>) -> impl IntoView {
    let outcome = form_outcome(move || action.value().get(), "profile");
    let pending = action.pending();

    let emails = me.verified_emails();
    let current_email =
        me.email.as_deref().and_then(|current| emails.iter().position(|e| e.eq_ignore_ascii_case(current)));
    let email_help = if emails.is_empty() {
        "None of your linked accounts shares a verified email address."
    } else {
        "Only verified addresses of your linked accounts can be used."
    };

    // Identities with a picture that would be shown (see `Avatar`).
    let pictures: Vec<&Identity> = me
        .identities
        .iter()
        .filter(|i| {
            i.picture.as_deref().is_some_and(|p| {
                let p = p.trim_start().to_ascii_lowercase();
                p.starts_with("https://") || p.starts_with("http://")
            })
        })
        .collect();
    let current_picture =
        me.picture.as_deref().and_then(|current| pictures.iter().position(|i| i.picture.as_deref() == Some(current)));
    let picture_options = pictures.iter().map(|identity| (identity.id.to_string(), identity.label())).collect();
    let email_options = emails.iter().map(|email| (email.clone(), email.clone())).collect();

    view! {
        <section class="panel" aria-labelledby="choices-title">
            <h2 id="choices-title">"Email and picture"</h2>
            <ActionForm action=action attr:class="form form--stack">
                <ChoiceField
                    id="primary-email"
                    name="primary_email"
                    label="Primary email"
                    help=email_help
                    options=email_options
                    selected=current_email
                    none="None"
                />
                <ChoiceField
                    id="picture"
                    name="picture_identity"
                    label="Picture"
                    help="Use the picture of one of your linked accounts, or your initials."
                    options=picture_options
                    selected=current_picture
                    none="Initials"
                />
                <div class="form__actions">
                    <button
                        type="submit"
                        class="button"
                        aria-busy=move || if pending.get() { "true" } else { "false" }
                    >
                        "Save profile"
                    </button>
                </div>
                <div class="field__message" aria-live="polite">
                    <FormStatus outcome/>
                </div>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// A labelled choice among `options` (value, label), with a last option `none` (value "").
#[component]
fn ChoiceField(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    help: &'static str,
    options: Vec<(String, String)>,
    selected: Option<usize>,
    none: &'static str,
) -> impl IntoView {
    let help_id = format!("{id}-help");
    let options = options
        .into_iter()
        .enumerate()
        .map(|(index, (value, label))| view! { <option value=value selected=selected == Some(index)>{label}</option> })
        .collect_view();
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select id=id name=name class="select" aria-describedby=help_id.clone()>
                {options}
                <option value="" selected=selected.is_none()>{none}</option>
            </select>
            <p id=help_id class="field__help">{help}</p>
        </div>
    }
}

/// "Delete account": the server asks for a fresh sign-in first when the last one is not
/// recent; on success the browser lands signed out on the home page.
#[component]
fn DeleteAccount(recently_signed_in: bool) -> impl IntoView {
    let delete = ServerAction::<DeleteAccount>::new();
    let outcome = form_outcome(move || delete.value().get(), "deleted");
    // Deleted: the session cookie is gone; the home page says so.
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            let _ = window().location().set_href(routes::HOME);
        }
    });
    view! {
        <section class="panel panel--danger" aria-labelledby="delete-title">
            <h2 id="delete-title">"Delete account"</h2>
            <p>
                "Deleting your account removes your profile, your linked accounts and all your sessions. "
                "It cannot be undone. The security activity log is kept, without your name."
            </p>
            {(!recently_signed_in)
                .then(|| {
                    view! {
                        <p class="note">
                            "For your safety, you will be asked to sign in again before the account is deleted."
                        </p>
                    }
                })}
            <ActionForm action=delete attr:class="delete-form">
                <label class="checkbox">
                    <input type="checkbox" name="confirm" value="yes" required/>
                    <span>"I understand that my account will be deleted for good."</span>
                </label>
                <button type="submit" class="button button--danger">"Delete my account"</button>
                <div class="field__message" aria-live="polite">
                    <FormStatus outcome done="Deleted."/>
                </div>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// Provider, email (with its verification) and subject of one identity.
#[component]
fn IdentityDetails(identity: Identity) -> impl IntoView {
    let email = match identity.email {
        Some(email) => view! { <EmailWithBadge email verified=identity.email_verified/> }.into_any(),
        None => view! { <span class="muted">"Not shared"</span> }.into_any(),
    };

    view! {
        <dl class="identity">
            <div class="identity__row">
                <dt>"Provider"</dt>
                <dd class="identity__provider">{identity.provider_name}</dd>
            </div>
            <div class="identity__row">
                <dt>"Email"</dt>
                <dd>{email}</dd>
            </div>
            <div class="identity__row">
                <dt>"Subject"</dt>
                <dd>
                    <code class="subject" title=identity.issuer>{identity.subject}</code>
                </dd>
            </div>
        </dl>
    }
    .into_any()
}
