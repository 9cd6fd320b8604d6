use leptos::prelude::*;

use crate::{
    api::{EndOtherSessions, RevokeSession, SessionInfo, error_message, my_sessions, routes},
    components::{FormAction, FormStatus, PostForm, SignOutButton, Timestamp, form_outcome},
    format::browser_summary,
    pages::{LoadError, Loading, PageTitle, SignedIn, signed_out_redirect},
};

/// `/sessions`: the browsers signed in to this account, each of which can be signed out.
#[component]
pub fn SessionsPage() -> impl IntoView {
    let sessions = Resource::new(|| (), |_| my_sessions());
    let revoke = FormAction::<RevokeSession>::new();
    let outcome = form_outcome(move || revoke.latest(), "ended");

    view! {
        <PageTitle text="Sessions · latchkey"/>
        <Suspense fallback=Loading>
            {Suspend::new(async move {
                match sessions.await {
                    Ok(Some(sessions)) => view! { <SessionList sessions revoke outcome/> }.into_any(),
                    Ok(None) => signed_out_redirect(),
                    Err(e) => view! {
                        <LoadError message=error_message(&e) retry_href=routes::SESSIONS/>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
fn SessionList(
    mut sessions: Vec<SessionInfo>,
    revoke: FormAction<RevokeSession>,
    outcome: Signal<crate::components::Outcome>,
) -> impl IntoView {
    // This browser first; the others as the core sorted them (most recent first).
    sessions.sort_by_key(|s| !s.current);
    let others = sessions.iter().filter(|s| !s.current).count();
    let summary = match others {
        0 => "You are signed in in this browser only.".to_string(),
        1 => "You are signed in in this browser and 1 other.".to_string(),
        n => format!("You are signed in in this browser and {n} others."),
    };

    view! {
        <section class="card card--profile" aria-labelledby="sessions-title">
            <h1 id="sessions-title">"Sessions"</h1>
            <p class="lede">{summary}</p>
            <p class="muted">
                "If you do not recognise a session, sign it out, and consider unlinking the account it signed in with."
            </p>
            <div aria-live="polite">
                <FormStatus outcome done="Signed out."/>
            </div>
            <SignOutEverywhereElse others/>
            // Names the list for the headings inside it (one per browser), so no level is skipped.
            <h2 class="visually-hidden">"Signed-in browsers"</h2>
            <ul class="session-list">
                {sessions
                    .into_iter()
                    .enumerate()
                    .map(|(index, session)| view! { <li><SessionItem session index revoke/></li> })
                    .collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

/// "Sign out everywhere else" (while there is another session), and what it did.
#[component]
fn SignOutEverywhereElse(others: usize) -> impl IntoView {
    let end_others = FormAction::<EndOtherSessions>::new();
    let outcome = form_outcome(move || end_others.latest(), "ended_others");
    view! {
        {(others > 0).then(|| view! {
            <PostForm action=end_others class="inline-form">
                <button type="submit" class="button button--secondary">"Sign out everywhere else"</button>
            </PostForm>
        })}
        <div aria-live="polite">
            <FormStatus outcome done="Every other session was signed out."/>
        </div>
    }
}

#[component]
fn SessionItem(session: SessionInfo, index: usize, revoke: FormAction<RevokeSession>) -> impl IntoView {
    let title_id = format!("session-{index}");
    let heading_id = title_id.clone();
    let browser = browser_summary(session.user_agent.as_deref());
    let user_agent = session.user_agent.clone();
    let ip = format!("IP address {}", session.ip.as_deref().unwrap_or("unknown"));
    let via = session.provider.as_ref().map(|provider| view! { <li>{format!("Signed in via {provider}")}</li> });
    let provider_can_end_it = session
        .provider
        .as_ref()
        .filter(|_| session.provider_can_end_it)
        .map(|provider| view! { <li>{format!("{provider} can sign it out when you sign out there")}</li> });

    let action = if session.current {
        let provider = use_context::<SignedIn>().and_then(|signed_in| signed_in.me.provider_sign_out.clone());
        view! { <SignOutButton provider/> }.into_any()
    } else {
        // `aria-describedby` says which session, without changing the button's name.
        let describedby = title_id.clone();
        let session_id = session.id.to_string();
        view! {
            <PostForm action=revoke class="inline-form">
                <input type="hidden" name="session_id" value=session_id.clone()/>
                <button type="submit" class="button button--secondary" aria-describedby=describedby.clone()>
                    "Sign out this session"
                </button>
            </PostForm>
        }
        .into_any()
    };

    view! {
        <article
            class=if session.current { "session session--current" } else { "session" }
            aria-labelledby=title_id.clone()
        >
            <div class="session__body">
                <div class="session__title">
                    <h3 id=heading_id class="session__browser" title=user_agent>{browser}</h3>
                    {session
                        .current
                        .then(|| view! { <span class="badge badge--current">"This browser"</span> })}
                </div>
                <ul class="facts">
                    {via}
                    {provider_can_end_it}
                    <li><Timestamp label="Started " at=session.created_at/></li>
                    <li><Timestamp label="Last active " at=session.last_seen_at/></li>
                    <li>{ip}</li>
                </ul>
            </div>
            <div class="session__action">{action}</div>
        </article>
    }
    .into_any()
}
