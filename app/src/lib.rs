//! latchkey's user interface: pages, components, the server functions they call, and the
//! rendering of a page into a document.
//!
//! Components only ever see the shared types (`latchkey-types`, re-exported by [`api`]);
//! everything that touches the sign-in core (`latchkey-server`) lives behind
//! `feature = "ssr"`.

// The pages' view types nest deeply (their layouts are computed where they are boxed).
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod format;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod render;

/// Entry point of the browser bundle.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
