pub mod activity_event;
pub mod identity;
pub mod pending_link;
pub mod pending_login;
pub mod provider_token;
pub mod session;
pub mod user;
