use std::sync::Arc;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    api::{DeleteAccount, Identity, LinkedProviders, Me, UpdateDisplayName, UpdateProfile, routes},
    components::{
        Avatar, EmailWithBadge, FormAction, FormContext, FormStatus, OnePass, PostForm, PostedOutcome, SignOutButton,
        avatar::is_web_url, form_outcome,
    },
    pages::{PageTitle, SignedIn},
};

/// `/profile`: the signed-in person's account (inside the account layout, which sends
/// anyone else home). The card is an island: its forms save without a reload, and the
/// header follows what they saved.
#[component]
pub fn ProfilePage() -> impl IntoView {
    let profile = Profile::of(&SignedIn::get().me);
    // What a plain post left in the query, as the account layout read it.
    let posted = use_context::<FormContext>().map(|context| context.posted).unwrap_or_default();
    // Waits for nothing: the account layout loaded the person.
    OnePass(view! {
        <PageTitle text="Your profile · latchkey"/>
        <ProfileCard profile posted/>
    })
}

/// What the profile card shows and offers: all of the person that goes to the browser (as
/// the island's props), so not their timestamps or token state, which the card does not show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Profile {
    /// The user id: the seed of the initials' colour.
    user_id: String,
    name: String,
    email: Option<String>,
    picture: Option<String>,
    recently_signed_in: bool,
    provider_sign_out: Option<String>,
    this_session: Option<IdentityFacts>,
    also_linked: Vec<IdentityFacts>,
    /// The verified emails of the linked accounts, and which of them is the primary one.
    email_choices: Vec<String>,
    email_chosen: Option<usize>,
    /// The linked accounts with a picture that would be shown (see `Avatar`): (identity id,
    /// label), and which of them is the person's picture.
    picture_choices: Vec<(String, String)>,
    picture_chosen: Option<usize>,
    providers: LinkedProviders,
}

/// What the card says of one linked account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct IdentityFacts {
    provider_name: String,
    issuer: String,
    subject: String,
    email: Option<String>,
    email_verified: bool,
}

impl Profile {
    fn of(me: &Me) -> Profile {
        let facts = |identity: &Identity| IdentityFacts {
            provider_name: identity.provider_name.clone(),
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            email: identity.email.clone(),
            email_verified: identity.email_verified,
        };
        let this_session = me.session_identity();
        let email_choices = me.verified_emails();
        let email_chosen =
            me.email.as_deref().and_then(|current| email_choices.iter().position(|e| e.eq_ignore_ascii_case(current)));
        let with_picture: Vec<&Identity> =
            me.identities.iter().filter(|i| i.picture.as_deref().is_some_and(is_web_url)).collect();
        let picture_chosen = me
            .picture
            .as_deref()
            .and_then(|current| with_picture.iter().position(|i| i.picture.as_deref() == Some(current)));
        Profile {
            user_id: me.id.to_string(),
            name: me.name.clone(),
            email: me.email.clone(),
            picture: me.picture.clone(),
            recently_signed_in: me.recently_signed_in,
            provider_sign_out: me.provider_sign_out.clone(),
            this_session: this_session.map(facts),
            also_linked: me.identities.iter().filter(|i| this_session != Some(*i)).map(facts).collect(),
            email_choices,
            email_chosen,
            picture_choices: with_picture.iter().map(|identity| (identity.id.to_string(), identity.label())).collect(),
            picture_chosen,
            providers: LinkedProviders::of(me),
        }
    }
}

/// The profile card; `posted` is what a plain form post left in the page's query.
#[island]
fn ProfileCard(profile: Profile, posted: PostedOutcome) -> impl IntoView {
    provide_context(FormContext { providers: Arc::new(profile.providers), here: routes::PROFILE.to_string(), posted });
    let update = FormAction::<UpdateDisplayName>::new();

    // The name as stored: starts from the page's data, follows successful saves.
    let name = RwSignal::new(profile.name.clone());
    Effect::new(move |_| {
        if let Some(Ok(saved)) = update.latest() {
            name.set(saved);
        }
    });
    let outcome = form_outcome(move || update.latest(), "name");
    let invalid = move || matches!(outcome.get(), Some(Err(_)));

    // The primary email and picture as stored: follow the other form's saves.
    let update_profile = FormAction::<UpdateProfile>::new();
    let email = RwSignal::new(profile.email);
    let picture = RwSignal::new(profile.picture);
    Effect::new(move |_| {
        if let Some(Ok(saved)) = update_profile.latest() {
            email.set(saved.email);
            picture.set(saved.picture);
        }
    });
    let seed = profile.user_id;
    let choices = Choices {
        emails: profile.email_choices,
        email_chosen: profile.email_chosen,
        pictures: profile.picture_choices,
        picture_chosen: profile.picture_chosen,
    };
    let (stored_name, recently_signed_in, provider_sign_out) =
        (profile.name, profile.recently_signed_in, profile.provider_sign_out);
    let session_identity = profile.this_session;
    let other_identities = profile.also_linked;

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
                <PostForm action=update class="form">
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
                                aria-busy=move || if update.pending() { "true" } else { "false" }
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
                </PostForm>
            </section>

            <ProfileChoices choices action=update_profile/>

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
}

/// The choices of primary email and picture, and the current ones (by index).
struct Choices {
    emails: Vec<String>,
    email_chosen: Option<usize>,
    pictures: Vec<(String, String)>,
    picture_chosen: Option<usize>,
}

/// "Primary email" and "Picture": chosen among what the linked accounts share.
#[component]
fn ProfileChoices(choices: Choices, action: FormAction<UpdateProfile>) -> impl IntoView {
    let outcome = form_outcome(move || action.latest(), "profile");
    let email_help = if choices.emails.is_empty() {
        "None of your linked accounts shares a verified email address."
    } else {
        "Only verified addresses of your linked accounts can be used."
    };
    let email_options = choices.emails.into_iter().map(|email| (email.clone(), email)).collect();

    view! {
        <section class="panel" aria-labelledby="choices-title">
            <h2 id="choices-title">"Email and picture"</h2>
            <PostForm action=action class="form form--stack">
                <ChoiceField
                    id="primary-email"
                    name="primary_email"
                    label="Primary email"
                    help=email_help
                    options=email_options
                    selected=choices.email_chosen
                    none="None"
                />
                <ChoiceField
                    id="picture"
                    name="picture_identity"
                    label="Picture"
                    help="Use the picture of one of your linked accounts, or your initials."
                    options=choices.pictures
                    selected=choices.picture_chosen
                    none="Initials"
                />
                <div class="form__actions">
                    <button
                        type="submit"
                        class="button"
                        aria-busy=move || if action.pending() { "true" } else { "false" }
                    >
                        "Save profile"
                    </button>
                </div>
                <div class="field__message" aria-live="polite">
                    <FormStatus outcome/>
                </div>
            </PostForm>
        </section>
    }
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
    let delete = FormAction::<DeleteAccount>::new();
    let outcome = form_outcome(move || delete.latest(), "deleted");
    // Deleted: the session cookie is gone; the home page says so.
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.latest() {
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
            <PostForm action=delete class="delete-form">
                <label class="checkbox">
                    <input type="checkbox" name="confirm" value="yes" required/>
                    <span>"I understand that my account will be deleted for good."</span>
                </label>
                <button type="submit" class="button button--danger">"Delete my account"</button>
                <div class="field__message" aria-live="polite">
                    <FormStatus outcome done="Deleted."/>
                </div>
            </PostForm>
        </section>
    }
}

/// Provider, email (with its verification) and subject of one identity.
#[component]
fn IdentityDetails(identity: IdentityFacts) -> impl IntoView {
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
}
