//! The provider's discovery document and keys, cached without ever holding a lock across a
//! network call. One caller at a time refreshes; while it does, everyone else gets the last
//! good copy at once, and only callers with no copy at all wait for it (on a `Notify`, not a
//! lock). A failed refresh keeps the last good copy for [`RETRY_AFTER_FAILURE`]; a failed
//! first discovery is remembered as long, so a provider that is down costs each sign-in no
//! time until then.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::futures::Notified;

/// How long a failure is remembered before the provider is asked again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// A good copy and when its parts are due to be fetched again.
pub struct Copy<T> {
    pub value: Arc<T>,
    /// Discovery is fetched again from here on.
    pub discovery_due: Instant,
    /// The keys are fetched again from here on.
    pub keys_due: Instant,
    /// When the keys were last fetched (or tried): an unknown key id fetches them again only
    /// a refetch interval after this.
    pub keys_fetched_at: Instant,
}

impl<T> Clone for Copy<T> {
    fn clone(&self) -> Self {
        Copy {
            value: self.value.clone(),
            discovery_due: self.discovery_due,
            keys_due: self.keys_due,
            keys_fetched_at: self.keys_fetched_at,
        }
    }
}

struct State<T> {
    copy: Option<Copy<T>>,
    refreshing: bool,
    /// The last failure with no copy to fall back on, and when it happened.
    failure: Option<(Instant, String)>,
}

pub struct Cache<T> {
    state: Mutex<State<T>>,
    refreshed: tokio::sync::Notify,
}

/// What a caller does next.
pub enum Lookup<'a, T> {
    /// Fresh enough: use it.
    Ready(Arc<T>),
    /// This caller refreshes. `stale` is the last good copy (`None`: there is none yet).
    Refresh { stale: Option<Copy<T>>, claim: Claim<'a, T> },
    /// Another caller is fetching the first copy: wait for it, then look again.
    Wait(Notified<'a>),
    /// The last attempt failed recently, with this message: do not ask the provider again yet.
    Failed(String),
}

/// The right to refresh, held by one caller at a time; dropped unfinished (the caller was
/// cancelled), it lets the next caller try.
pub struct Claim<'a, T> {
    cache: &'a Cache<T>,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache {
            state: Mutex::new(State { copy: None, refreshing: false, failure: None }),
            refreshed: tokio::sync::Notify::new(),
        }
    }
}

impl<T> Cache<T> {
    fn state(&self) -> MutexGuard<'_, State<T>> {
        // The state is a few plain fields, consistent after every statement: a panic elsewhere
        // while it was locked leaves nothing half-changed.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last good copy, if any, whether fresh or not (never waits).
    pub fn peek(&self) -> Option<Arc<T>> {
        self.state().copy.as_ref().map(|copy| copy.value.clone())
    }

    pub fn lookup(&self, now: Instant) -> Lookup<'_, T> {
        let mut state = self.state();
        match &state.copy {
            Some(copy) if now < copy.discovery_due && now < copy.keys_due => Lookup::Ready(copy.value.clone()),
            Some(copy) if state.refreshing => Lookup::Ready(copy.value.clone()),
            Some(copy) => {
                let stale = Some(copy.clone());
                state.refreshing = true;
                Lookup::Refresh { stale, claim: Claim { cache: self } }
            }
            None => match &state.failure {
                Some((at, message)) if now.saturating_duration_since(*at) < RETRY_AFTER_FAILURE => {
                    Lookup::Failed(message.clone())
                }
                _ if state.refreshing => Lookup::Wait(self.refreshed.notified()),
                _ => {
                    state.refreshing = true;
                    Lookup::Refresh { stale: None, claim: Claim { cache: self } }
                }
            },
        }
    }

    /// The right to fetch the keys again for an unknown key id.
    pub fn claim_keys(&self, now: Instant, interval: Duration) -> KeyRefresh<'_, T> {
        let mut state = self.state();
        let Some(copy) = state.copy.clone() else { return KeyRefresh::TooSoon };
        if state.refreshing {
            return KeyRefresh::Wait(self.refreshed.notified());
        }
        if now.saturating_duration_since(copy.keys_fetched_at) < interval {
            return KeyRefresh::TooSoon;
        }
        state.refreshing = true;
        KeyRefresh::Go(copy, Claim { cache: self })
    }
}

/// Whether an unknown key id may fetch the keys again.
pub enum KeyRefresh<'a, T> {
    /// They were fetched less than the refetch interval ago (or never: discovery will).
    TooSoon,
    /// Another refresh is under way: wait for it, then verify again.
    Wait(Notified<'a>),
    /// This caller fetches them; the current copy.
    Go(Copy<T>, Claim<'a, T>),
}

impl<T> Claim<'_, T> {
    /// Stores a new good copy.
    pub fn store(self, copy: Copy<T>) -> Arc<T> {
        let value = copy.value.clone();
        self.finish(|state| {
            state.copy = Some(copy);
            state.failure = None;
        });
        value
    }

    /// Records a failed refresh at `now`: the last good copy, if any, serves until
    /// [`RETRY_AFTER_FAILURE`] has passed; without one, the failure is what callers get as long.
    pub fn fail(self, now: Instant, message: String) -> Result<Arc<T>, String> {
        let mut outcome = Err(message.clone());
        self.finish(|state| match &mut state.copy {
            Some(copy) => {
                let retry = now + RETRY_AFTER_FAILURE;
                copy.keys_due = copy.keys_due.max(retry);
                copy.discovery_due = copy.discovery_due.max(retry);
                copy.keys_fetched_at = now;
                outcome = Ok(copy.value.clone());
            }
            None => state.failure = Some((now, message)),
        });
        outcome
    }

    fn finish(self, change: impl FnOnce(&mut State<T>)) {
        change(&mut self.cache.state());
        // `Drop` releases the claim and wakes the waiters.
    }
}

impl<T> Drop for Claim<'_, T> {
    fn drop(&mut self) {
        self.cache.state().refreshing = false;
        self.cache.refreshed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(value: u32, now: Instant, lifetime: Duration) -> Copy<u32> {
        Copy { value: Arc::new(value), discovery_due: now + lifetime, keys_due: now + lifetime, keys_fetched_at: now }
    }

    /// A cache whose first fetch, at `start`, stored `1`, good for a minute.
    fn holding_one(start: Instant) -> Cache<u32> {
        let cache = Cache::default();
        let Lookup::Refresh { claim, .. } = cache.lookup(start) else { panic!("the first caller fetches") };
        claim.store(copy(1, start, Duration::from_secs(60)));
        cache
    }

    #[test]
    fn while_one_caller_refreshes_a_stale_copy_the_others_get_the_last_good_copy_at_once() {
        let start = Instant::now();
        let cache = holding_one(start);
        let later = start + Duration::from_secs(61);

        let Lookup::Refresh { stale, claim } = cache.lookup(later) else { panic!("a stale copy is refreshed") };
        let meanwhile = cache.lookup(later);

        assert_eq!(stale.map(|s| *s.value), Some(1));
        assert!(matches!(meanwhile, Lookup::Ready(value) if *value == 1), "others are not held up");
        claim.store(copy(2, later, Duration::from_secs(60)));
        assert!(matches!(cache.lookup(later), Lookup::Ready(value) if *value == 2));
    }

    #[test]
    fn a_failed_first_discovery_is_remembered_for_30_seconds_then_tried_again() {
        let cache: Cache<u32> = Cache::default();
        let start = Instant::now();
        let Lookup::Refresh { claim, .. } = cache.lookup(start) else { panic!("the first caller fetches") };
        assert_eq!(claim.fail(start, "down".into()), Err("down".to_string()));

        let soon = cache.lookup(start + Duration::from_secs(29));
        let after = cache.lookup(start + Duration::from_secs(31));

        assert!(matches!(soon, Lookup::Failed(message) if message == "down"), "not asked again yet");
        assert!(matches!(after, Lookup::Refresh { stale: None, .. }), "asked again after 30 s");
    }

    #[test]
    fn a_failed_refresh_keeps_the_last_good_copy_for_30_seconds() {
        let start = Instant::now();
        let cache = holding_one(start);
        let stale_at = start + Duration::from_secs(61);
        let Lookup::Refresh { claim, .. } = cache.lookup(stale_at) else { panic!("a stale copy is refreshed") };

        assert_eq!(claim.fail(stale_at, "down".into()).map(|v| *v), Ok(1), "the caller gets the last good copy");
        assert!(matches!(cache.lookup(stale_at + Duration::from_secs(29)), Lookup::Ready(v) if *v == 1));
        assert!(matches!(cache.lookup(stale_at + Duration::from_secs(31)), Lookup::Refresh { .. }));
    }

    #[test]
    fn callers_without_a_copy_wait_for_the_one_fetching_and_a_cancelled_fetch_lets_the_next_try() {
        let cache: Cache<u32> = Cache::default();
        let now = Instant::now();
        let Lookup::Refresh { claim, .. } = cache.lookup(now) else { panic!("the first caller fetches") };

        assert!(matches!(cache.lookup(now), Lookup::Wait(_)), "no second fetch at once");
        drop(claim);
        assert!(matches!(cache.lookup(now), Lookup::Refresh { .. }), "the claim was released");
    }
}
