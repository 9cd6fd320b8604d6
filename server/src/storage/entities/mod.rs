pub mod identity;
pub mod pending_login;
pub mod session;
pub mod user;
