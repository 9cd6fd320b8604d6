//! Many sign-ins at once, in a test binary of their own: cargo runs test binaries one after
//! the other, so this load neither slows nor is slowed by the other tests.

// The harness of tests/app, of which this binary uses a part.
#[allow(dead_code)]
#[path = "../app/support.rs"]
mod support;

mod concurrency;
