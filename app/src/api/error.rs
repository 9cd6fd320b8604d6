//! Why an account change did not happen: one typed error for every server function that
//! changes the account, worded here, in the UI, for people.
//!
//! Without JavaScript a form post is answered with a redirect back to its page, carrying
//! the outcome in the query (`?problem=…`, see [`ActionError::to_query`]): the page reads
//! it back into an `ActionError`, so only these fixed sentences can ever be shown.

use latchkey_types::{ApiRefusal, DisplayName, DisplayNameError, Me, ProviderId, routes};
use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionError {
    SignInNeeded,
    RecentSignInNeeded,
    NotFound,
    LastIdentity,
    NotAVerifiedEmail,
    NotALinkedPicture,
    DisplayName(DisplayNameError),
    LinkedElsewhere,
    NoProviderAccess(ProviderId),
    ReconnectNeeded(ProviderId),
    ProviderUnavailable(ProviderId),
    ProviderAnswer(ProviderId),
    /// An admin tried to disable their own account.
    OwnAccount,
    CrossSite,
    Unavailable,
    /// This client address made too many requests; `retry_after` seconds, when known.
    TooManyRequests {
        retry_after: Option<u64>,
    },
    /// The request itself failed (network, encoding).
    Transport(ServerFnErrorErr),
}

impl FromServerFnError for ActionError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ActionError::Transport(value)
    }

    /// Refusals made before a server function runs (the rate limit, the same-site guard) come
    /// as the API's [`ApiRefusal`], not as an `ActionError`.
    fn de(data: leptos::server_fn::Bytes) -> Self {
        if let Ok(error) = serde_json::from_slice::<ActionError>(&data) {
            return error;
        }
        match serde_json::from_slice::<ApiRefusal>(&data) {
            Ok(ApiRefusal { retry_after: Some(seconds), .. }) => {
                ActionError::TooManyRequests { retry_after: Some(seconds) }
            }
            Ok(_) => ActionError::Transport(ServerFnErrorErr::ServerError("refused".into())),
            Err(error) => ActionError::Transport(ServerFnErrorErr::Deserialization(error.to_string())),
        }
    }
}

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(None))
    }
}

/// The providers of the signed-in person's linked accounts, each once, in link order, with
/// their names for people: what an error names, and where a form offers to sign in again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedProviders(Vec<(ProviderId, String)>);

impl LinkedProviders {
    pub fn of(me: &Me) -> LinkedProviders {
        let mut providers: Vec<(ProviderId, String)> = Vec::new();
        for identity in &me.identities {
            if !providers.iter().any(|(id, _)| id == &identity.provider) {
                providers.push((identity.provider.clone(), identity.provider_name.clone()));
            }
        }
        LinkedProviders(providers)
    }

    /// Each provider and its name.
    pub fn iter(&self) -> impl Iterator<Item = (&ProviderId, &str)> {
        self.0.iter().map(|(id, name)| (id, name.as_str()))
    }

    fn name_of(&self, provider: &ProviderId) -> Option<&str> {
        self.iter().find(|(id, _)| *id == provider).map(|(_, name)| name)
    }
}

impl ActionError {
    /// The sentence for people; `providers` names the providers of their linked accounts.
    pub fn message(&self, providers: Option<&LinkedProviders>) -> String {
        let name = |provider: &ProviderId| {
            providers
                .and_then(|providers| providers.name_of(provider))
                .map_or_else(|| "that provider".to_string(), str::to_string)
        };
        match self {
            ActionError::SignInNeeded => "You need to sign in.".into(),
            ActionError::RecentSignInNeeded => {
                "For your safety, please sign in again first (this needs a sign-in within the last 10 minutes).".into()
            }
            ActionError::NotFound => "That was not found.".into(),
            ActionError::LastIdentity => {
                "This is your only way to sign in, so it cannot be removed. Link another account first.".into()
            }
            ActionError::NotAVerifiedEmail => "Choose one of the verified emails of your linked accounts.".into(),
            ActionError::NotALinkedPicture => "Choose a picture from one of your linked accounts.".into(),
            ActionError::DisplayName(DisplayNameError::Empty) => "Display name cannot be empty.".into(),
            ActionError::DisplayName(DisplayNameError::TooLong) => {
                format!("Display name can be at most {} characters.", DisplayName::MAX_CHARS)
            }
            ActionError::DisplayName(DisplayNameError::ControlCharacter) => {
                "Display name cannot contain control characters.".into()
            }
            ActionError::LinkedElsewhere => {
                "That account was linked to another latchkey account in the meantime, so it was not linked.".into()
            }
            ActionError::NoProviderAccess(provider) => {
                format!("latchkey holds no access to {} for this account.", name(provider))
            }
            ActionError::ReconnectNeeded(provider) => {
                let name = name(provider);
                format!(
                    "{} no longer accepts latchkey's access. Sign in with {name} again to reconnect.",
                    sentence_start(&name)
                )
            }
            ActionError::ProviderUnavailable(provider) => {
                format!(
                    "{} could not be asked right now. Please try again in a moment.",
                    sentence_start(&name(provider))
                )
            }
            ActionError::ProviderAnswer(provider) => {
                format!("{} did not answer as expected, so nothing was changed.", sentence_start(&name(provider)))
            }
            ActionError::OwnAccount => "You cannot disable your own account; another admin can, if it must be.".into(),
            ActionError::CrossSite => "This request did not come from this site.".into(),
            ActionError::Unavailable => {
                "latchkey cannot reach its database right now; nothing was changed. Please try again in a moment."
                    .into()
            }
            ActionError::TooManyRequests { retry_after } => {
                let wait = match retry_after {
                    Some(1) => "a second".to_string(),
                    Some(seconds) => format!("{seconds} seconds"),
                    None => "a minute".to_string(),
                };
                format!("Too many requests came from your network. Please wait {wait}, then try again.")
            }
            ActionError::Transport(ServerFnErrorErr::Request(_)) => {
                "Could not reach the server. Check your connection and try again.".into()
            }
            ActionError::Transport(_) => "Something went wrong. Please try again.".into(),
        }
    }

    /// How a page learns of it after a form post without JavaScript: `problem=…`, and
    /// `provider=…` where the sentence names one.
    pub fn to_query(&self) -> String {
        let (problem, provider) = match self {
            ActionError::SignInNeeded => ("sign_in_needed", None),
            ActionError::RecentSignInNeeded => (routes::problem::RECENT_SIGN_IN_NEEDED, None),
            ActionError::NotFound => ("not_found", None),
            ActionError::LastIdentity => ("last_identity", None),
            ActionError::NotAVerifiedEmail => ("not_a_verified_email", None),
            ActionError::NotALinkedPicture => ("not_a_linked_picture", None),
            ActionError::DisplayName(DisplayNameError::Empty) => ("display_name_empty", None),
            ActionError::DisplayName(DisplayNameError::TooLong) => ("display_name_too_long", None),
            ActionError::DisplayName(DisplayNameError::ControlCharacter) => ("display_name_control", None),
            ActionError::LinkedElsewhere => ("linked_elsewhere", None),
            ActionError::NoProviderAccess(p) => ("no_provider_access", Some(p)),
            ActionError::ReconnectNeeded(p) => ("reconnect_needed", Some(p)),
            ActionError::ProviderUnavailable(p) => ("provider_unavailable", Some(p)),
            ActionError::ProviderAnswer(p) => ("provider_answer", Some(p)),
            ActionError::OwnAccount => ("own_account", None),
            ActionError::CrossSite => ("cross_site", None),
            ActionError::TooManyRequests { .. } => ("too_many_requests", None),
            ActionError::Unavailable | ActionError::Transport(_) => ("unavailable", None),
        };
        match provider {
            Some(provider) => {
                format!("problem={problem}&provider={}", routes::encode_component(provider.as_str()))
            }
            None => format!("problem={problem}"),
        }
    }

    /// The error a page's query carries (see [`ActionError::to_query`]); unknown values
    /// carry none.
    pub fn from_query(problem: &str, provider: Option<&str>) -> Option<ActionError> {
        let provider = || provider.filter(|p| !p.is_empty()).map(ProviderId::new);
        Some(match problem {
            "sign_in_needed" => ActionError::SignInNeeded,
            routes::problem::RECENT_SIGN_IN_NEEDED => ActionError::RecentSignInNeeded,
            "not_found" => ActionError::NotFound,
            "last_identity" => ActionError::LastIdentity,
            "not_a_verified_email" => ActionError::NotAVerifiedEmail,
            "not_a_linked_picture" => ActionError::NotALinkedPicture,
            "display_name_empty" => ActionError::DisplayName(DisplayNameError::Empty),
            "display_name_too_long" => ActionError::DisplayName(DisplayNameError::TooLong),
            "display_name_control" => ActionError::DisplayName(DisplayNameError::ControlCharacter),
            "linked_elsewhere" => ActionError::LinkedElsewhere,
            "no_provider_access" => ActionError::NoProviderAccess(provider()?),
            "reconnect_needed" => ActionError::ReconnectNeeded(provider()?),
            "provider_unavailable" => ActionError::ProviderUnavailable(provider()?),
            "provider_answer" => ActionError::ProviderAnswer(provider()?),
            "own_account" => ActionError::OwnAccount,
            "cross_site" => ActionError::CrossSite,
            "too_many_requests" => ActionError::TooManyRequests { retry_after: None },
            "unavailable" => ActionError::Unavailable,
            _ => return None,
        })
    }
}

/// `text` with its first letter in upper case, to open a sentence.
fn sentence_start(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(feature = "ssr")]
impl From<latchkey_server::account::AccountError> for ActionError {
    fn from(error: latchkey_server::account::AccountError) -> Self {
        use latchkey_server::account::AccountError as E;
        match error {
            E::ReauthenticationRequired => ActionError::RecentSignInNeeded,
            E::NotFound => ActionError::NotFound,
            E::LastIdentity => ActionError::LastIdentity,
            E::NotAVerifiedEmail => ActionError::NotAVerifiedEmail,
            E::NotALinkedPicture => ActionError::NotALinkedPicture,
            E::DisplayName(reason) => ActionError::DisplayName(reason),
            E::LinkedElsewhere => ActionError::LinkedElsewhere,
            E::NoProviderAccess { provider } => ActionError::NoProviderAccess(provider),
            E::ReconnectNeeded { provider } => ActionError::ReconnectNeeded(provider),
            E::ProviderUnavailable { provider, reason } => {
                leptos::logging::warn!("{provider} could not be asked: {reason:?}");
                ActionError::ProviderUnavailable(provider)
            }
            E::ProviderAnswer { provider, reason } => {
                leptos::logging::warn!("{provider} answered unexpectedly: {reason:?}");
                ActionError::ProviderAnswer(provider)
            }
            E::Database(error) => ActionError::from(latchkey_server::AppError::Database(error)),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<latchkey_server::admin::AdminError> for ActionError {
    fn from(error: latchkey_server::admin::AdminError) -> Self {
        use latchkey_server::admin::AdminError as E;
        match error {
            E::NotFound => ActionError::NotFound,
            E::OwnAccount => ActionError::OwnAccount,
            E::Database(error) => ActionError::from(latchkey_server::AppError::Database(error)),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<latchkey_server::AppError> for ActionError {
    fn from(error: latchkey_server::AppError) -> Self {
        use latchkey_server::AppError as E;
        match error {
            E::Unauthenticated => ActionError::SignInNeeded,
            E::CrossOrigin => ActionError::CrossSite,
            E::Database(error) => {
                super::log_error(&latchkey_server::AppError::Database(error));
                ActionError::Unavailable
            }
            E::Internal(what) => ActionError::Transport(ServerFnErrorErr::ServerError(what.to_string())),
        }
    }
}

impl ActionError {
    /// The HTTP status a refused action answers with.
    #[cfg(feature = "ssr")]
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            ActionError::SignInNeeded => StatusCode::UNAUTHORIZED,
            ActionError::RecentSignInNeeded | ActionError::CrossSite => StatusCode::FORBIDDEN,
            ActionError::NotFound => StatusCode::NOT_FOUND,
            ActionError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ActionError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ActionError::ProviderUnavailable(_) => StatusCode::BAD_GATEWAY,
            ActionError::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_survives_the_trip_through_a_query() {
        let provider = ProviderId::new("git hub");
        let all = [
            ActionError::SignInNeeded,
            ActionError::RecentSignInNeeded,
            ActionError::NotFound,
            ActionError::LastIdentity,
            ActionError::NotAVerifiedEmail,
            ActionError::NotALinkedPicture,
            ActionError::DisplayName(DisplayNameError::Empty),
            ActionError::DisplayName(DisplayNameError::TooLong),
            ActionError::DisplayName(DisplayNameError::ControlCharacter),
            ActionError::LinkedElsewhere,
            ActionError::NoProviderAccess(provider.clone()),
            ActionError::ReconnectNeeded(provider.clone()),
            ActionError::ProviderUnavailable(provider.clone()),
            ActionError::ProviderAnswer(provider.clone()),
            ActionError::OwnAccount,
            ActionError::CrossSite,
            ActionError::TooManyRequests { retry_after: None },
            ActionError::Unavailable,
        ];
        for error in all {
            let query = error.to_query();
            let pairs: Vec<(String, String)> = query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_string(), v.replace("%20", " ")))
                .collect();
            let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            assert_eq!(ActionError::from_query(get("problem").unwrap_or(""), get("provider")), Some(error));
        }
    }

    #[test]
    fn a_rate_limit_refusal_from_the_edge_reads_as_too_many_requests_with_its_wait() {
        let refusal = ApiRefusal { error: "Too many requests".into(), retry_after: Some(7) };
        let body = serde_json::to_vec(&refusal).expect("json");
        let error = ActionError::de(body.into());
        assert_eq!(error, ActionError::TooManyRequests { retry_after: Some(7) });
        assert!(error.message(None).contains("wait 7 seconds"), "{}", error.message(None));

        let own = ActionError::LastIdentity;
        assert_eq!(ActionError::de(own.ser()), own, "the server functions' own errors still read back");
    }

    #[test]
    fn an_error_names_a_linked_provider_by_its_name_and_lists_each_provider_once() {
        let identity = |provider: &str, provider_name: &str, subject: &str| latchkey_types::Identity {
            id: latchkey_types::IdentityId::new(subject),
            provider: ProviderId::new(provider),
            provider_name: provider_name.into(),
            issuer: format!("https://{provider}.example"),
            subject: subject.into(),
            name: None,
            email: None,
            email_verified: false,
            picture: None,
            linked_at: Default::default(),
            last_used_at: Default::default(),
            token_status: None,
            token_scopes: Vec::new(),
        };
        let me = Me {
            id: latchkey_types::UserId::new("u1"),
            name: "Ada".into(),
            email: None,
            picture: None,
            identities: vec![
                identity("gh", "GitHub", "1"),
                identity("g", "Google", "2"),
                identity("gh", "GitHub", "3"),
            ],
            signed_in_with: None,
            recently_signed_in: false,
            provider_sign_out: None,
        };
        let providers = LinkedProviders::of(&me);
        let listed: Vec<(&ProviderId, &str)> = providers.iter().collect();
        assert_eq!(listed, [(&ProviderId::new("gh"), "GitHub"), (&ProviderId::new("g"), "Google")]);
        assert_eq!(
            ActionError::ProviderUnavailable(ProviderId::new("g")).message(Some(&providers)),
            "Google could not be asked right now. Please try again in a moment."
        );
        assert_eq!(
            ActionError::ProviderUnavailable(ProviderId::new("other")).message(Some(&providers)),
            "That provider could not be asked right now. Please try again in a moment."
        );
    }

    #[test]
    fn a_query_can_only_choose_among_the_fixed_sentences() {
        assert_eq!(ActionError::from_query("<script>", None), None);
        assert_eq!(ActionError::from_query("reconnect_needed", None), None, "a provider is required");
        let unknown = ActionError::from_query("reconnect_needed", Some("nobody")).expect("parsed");
        assert_eq!(
            unknown.message(None),
            "That provider no longer accepts latchkey's access. Sign in with that provider again to reconnect."
        );
    }
}
