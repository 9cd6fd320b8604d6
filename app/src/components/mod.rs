//! Small building blocks shared by the pages.

pub mod avatar;
pub mod brand;
pub mod provider_button;
pub mod sign_out;

pub use avatar::Avatar;
pub use brand::Brand;
pub use provider_button::{ProviderButtonLink, ProviderList};
pub use sign_out::SignOutButton;
