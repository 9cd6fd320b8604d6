//! Providers' tokens (access and refresh tokens latchkey holds for a linked identity).
//! They are sealed with an AEAD before they touch the database and never leave the server.

mod cipher;

pub use cipher::{CipherError, Sealed, TokenCipher};
