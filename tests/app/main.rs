//! latchkey driven over HTTP like a browser: each test starts the whole app on a random
//! port with a fresh database, with the built-in development provider as the identity
//! provider, and asserts outcomes (user or no user, session or no session).

mod fakes;
mod support;

mod access_tokens;
mod account;
mod account_forms;
mod admin;
mod backchannel;
mod callback_checks;
mod id_token_checks;
mod inbound;
mod instances;
mod key_rotation;
mod limits;
mod linking;
mod migrations;
mod operations;
mod pages;
mod process;
mod promises;
mod provider_logout;
mod provider_tokens;
mod providers;
mod resilience;
mod scale_out;
mod sessions;
mod sign_in;
mod sweeper;
