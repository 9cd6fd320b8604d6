//! Small building blocks shared by the pages.

pub mod account_nav;
pub mod avatar;
pub mod brand;
pub mod email;
pub mod form_status;
pub mod one_pass;
pub mod post_form;
pub mod provider_button;
pub mod sign_out;
pub mod timestamp;

pub use account_nav::AccountNav;
pub use avatar::Avatar;
pub use brand::Brand;
pub use email::EmailWithBadge;
pub use form_status::{FormContext, FormStatus, Outcome, PostedOutcome, form_outcome};
pub use one_pass::OnePass;
pub use post_form::{FormAction, PostForm};
pub use provider_button::{ProviderButtonLink, ProviderLinkForm, ProviderList};
pub use sign_out::SignOutButton;
pub use timestamp::Timestamp;
