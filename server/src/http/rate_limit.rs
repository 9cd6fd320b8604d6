//! Per-client-address rate limits on what costs latchkey or a provider work: starting a sign-in
//! or a link, returning from a provider, and `/api/*` (the UI's server functions and the JSON
//! API). In memory, one small entry per recent address, no database write per check; each
//! instance counts for itself. A refusal is `429` with an integer `Retry-After`, and a page (or
//! JSON, for `/api/*` calls) that says when to try again.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::extract::client_ip;
use super::inbound::Refusal;
use crate::config::RateLimitSettings;

/// What a limited request does, each kind with its own allowance per address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    SignInStart,
    Callback,
    Api,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::SignInStart => "sign_in_start",
            Kind::Callback => "callback",
            Kind::Api => "api",
        }
    }
}

fn kind_of(method: &Method, path: &str) -> Option<Kind> {
    if let Some(rest) = path.strip_prefix("/auth/") {
        // `/auth/{provider}/{step}`: the provider id is one percent-encoded segment.
        return match rest.split_once('/').map(|(_, step)| step) {
            Some("login") | Some("link") => Some(Kind::SignInStart),
            Some("callback") | Some("backchannel-logout") => Some(Kind::Callback),
            _ => None,
        };
    }
    (path.starts_with("/api/") && method != Method::OPTIONS).then_some(Kind::Api)
}

/// The address a limit counts: IPv4 whole, IPv6 by its /64 (one subscriber's usual share,
/// which one client can otherwise rotate through freely).
fn counted_address(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(network.into())
        }
        v4 => v4,
    }
}

/// `n` a minute, `n` at once: a burst the size of the whole minute's allowance.
fn per_minute(n: NonZeroU32) -> Quota {
    Quota::per_minute(n)
}

pub struct RateLimits {
    sign_in_starts: DefaultKeyedRateLimiter<IpAddr>,
    callbacks: DefaultKeyedRateLimiter<IpAddr>,
    api: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl RateLimits {
    /// The limits, with a background task that forgets addresses idle for a while (so memory
    /// follows recent clients, not every client ever seen); the task ends with the limits.
    pub fn start(settings: &RateLimitSettings) -> Arc<Self> {
        let limits = Arc::new(RateLimits {
            sign_in_starts: RateLimiter::keyed(per_minute(settings.sign_ins_per_minute)),
            callbacks: RateLimiter::keyed(per_minute(settings.callbacks_per_minute)),
            api: RateLimiter::keyed(per_minute(settings.api_per_minute)),
            clock: DefaultClock::default(),
        });
        tokio::spawn(forget_idle_addresses(Arc::downgrade(&limits)));
        limits
    }

    /// `Err(wait)` when `address` has used up its allowance for `kind`.
    fn check(&self, kind: Kind, address: IpAddr) -> Result<(), Duration> {
        let limiter = match kind {
            Kind::SignInStart => &self.sign_in_starts,
            Kind::Callback => &self.callbacks,
            Kind::Api => &self.api,
        };
        limiter.check_key(&counted_address(address)).map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

async fn forget_idle_addresses(limits: Weak<RateLimits>) {
    let mut every_minute = tokio::time::interval(Duration::from_secs(60));
    loop {
        every_minute.tick().await;
        let Some(limits) = limits.upgrade() else { return };
        for limiter in [&limits.sign_in_starts, &limits.callbacks, &limits.api] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Middleware (inside `attach_request_context`, which finds the client's address).
pub async fn limit_rates(State(limits): State<Arc<RateLimits>>, request: Request, next: Next) -> Response {
    let kind = kind_of(request.method(), request.uri().path());
    if let (Some(kind), Some(address)) = (kind, client_ip(&request))
        && let Err(wait) = limits.check(kind, address)
    {
        tracing::debug!(?kind, %address, "rate limit reached");
        crate::metrics::rate_limited(kind.label());
        return too_many_requests(&request, wait);
    }
    next.run(request).await
}

fn too_many_requests(request: &Request, wait: Duration) -> Response {
    // Whole seconds, rounded up: trying again after that many seconds succeeds.
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let when = match seconds {
        1 => "a second".to_string(),
        n => format!("{n} seconds"),
    };
    Refusal {
        status: StatusCode::TOO_MANY_REQUESTS,
        title: "Too many attempts",
        message: format!("Too many requests came from your network. Please wait {when}, then try again."),
        retry_after: seconds,
    }
    .for_request(request.uri().path(), request.headers())
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn the_default_sign_in_limit_refuses_a_burst_of_a_thousand_starts_in_a_minute() {
        let clock = FakeRelativeClock::default();
        let quota = per_minute(RateLimitSettings::default().sign_ins_per_minute);
        let limiter = RateLimiter::dashmap_with_clock(quota, clock.clone());
        let address: IpAddr = "203.0.113.9".parse().expect("an address");

        let mut allowed = 0;
        for _ in 0..1000 {
            if limiter.check_key(&address).is_ok() {
                allowed += 1;
            }
            clock.advance(Duration::from_millis(60));
        }

        // A minute's allowance and what trickles back within the minute; the rest is refused.
        assert!(allowed <= 2 * RateLimitSettings::default().sign_ins_per_minute.get(), "{allowed} allowed");
        assert!(1000 - allowed >= 750, "{} refused", 1000 - allowed);
    }

    #[test]
    fn an_office_behind_one_address_never_meets_the_default_limits() {
        // A hundred people signing in within the same minute, each a start and a return.
        let clock = FakeRelativeClock::default();
        let defaults = RateLimitSettings::default();
        let starts = RateLimiter::dashmap_with_clock(per_minute(defaults.sign_ins_per_minute), clock.clone());
        let callbacks = RateLimiter::dashmap_with_clock(per_minute(defaults.callbacks_per_minute), clock.clone());
        let office: IpAddr = "198.51.100.1".parse().expect("an address");
        for _ in 0..100 {
            assert!(starts.check_key(&office).is_ok() && callbacks.check_key(&office).is_ok());
            clock.advance(Duration::from_millis(600));
        }
    }

    #[test]
    fn ipv6_clients_count_by_their_64_bit_network() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("an address");
        let same_network: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("an address");
        let other_network: IpAddr = "2001:db8:1:3::1".parse().expect("an address");
        assert_eq!(counted_address(one), counted_address(same_network));
        assert_ne!(counted_address(one), counted_address(other_network));
        let v4: IpAddr = "192.0.2.7".parse().expect("an address");
        assert_eq!(counted_address(v4), v4);
    }

    #[test]
    fn what_is_limited() {
        assert_eq!(kind_of(&Method::GET, "/auth/google/login"), Some(Kind::SignInStart));
        assert_eq!(kind_of(&Method::POST, "/auth/github/link"), Some(Kind::SignInStart));
        assert_eq!(kind_of(&Method::GET, "/auth/corp%2Fsso/callback"), Some(Kind::Callback));
        assert_eq!(kind_of(&Method::POST, "/api/update_display_name"), Some(Kind::Api));
        assert_eq!(kind_of(&Method::GET, "/api/me"), Some(Kind::Api));
        assert_eq!(kind_of(&Method::POST, "/auth/logout"), None);
        assert_eq!(kind_of(&Method::GET, "/profile"), None);
        assert_eq!(kind_of(&Method::GET, "/pkg/latchkey.css"), None);
    }
}
