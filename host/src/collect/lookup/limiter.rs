//! The client-side rate limit of LookupEvents: one token bucket per region, shared by every
//! task that calls the API there (iam, signin, sso and sts all hit us-east-1).
//!
//! AWS allows 2 LookupEvents requests per second per account and region. The bucket holds
//! one token (no bursts: the server's own bucket keeps its spare token as a cushion against
//! network jitter) and refills at the region's current rate. A request reserves a token and
//! sleeps until it is due, so waiting callers are served in order without polling.
//!
//! The rate adapts: a `ThrottlingException` (someone else in the account is using the API,
//! or a storm) halves the region's rate, down to 1/16 of the configured rate; throttled
//! answers within [`CUT_COOLDOWN`] of a cut belong to the same burst and count once. After
//! [`RECOVERY_DOUBLING`] without any throttling the rate recovers gradually, doubling every
//! [`RECOVERY_DOUBLING`] back up to the configured rate. Recovery is time-based rather than
//! per success, so a region that is idle recovers too.
//!
//! Time is tokio's, so tests can run it with paused time.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::collect::Deadline;

/// The limiter refused to wait: the request would only be allowed after the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the deadline passes before the rate limit allows another request")]
pub struct WouldPassDeadline;

#[derive(Debug)]
struct Bucket {
    /// May go negative: each unit below zero is a caller already waiting for its turn.
    tokens: f64,
    last: Instant,
    /// The last slow-down (`None`: never throttled, the configured rate).
    cut: Option<Cut>,
}

#[derive(Debug, Clone, Copy)]
struct Cut {
    /// The rate set by the cut.
    rate: f64,
    at: Instant,
    /// The latest throttled answer (recovery waits for quiet since then).
    last_throttle: Instant,
}

impl Bucket {
    /// The rate at `now`: the configured one, or the last cut's until one
    /// [`RECOVERY_DOUBLING`] passed without throttling, then doubling every
    /// [`RECOVERY_DOUBLING`].
    fn rate_at(&self, now: Instant, base_rate: f64) -> f64 {
        let Some(cut) = self.cut else { return base_rate };
        let quiet = now.saturating_duration_since(cut.last_throttle).as_secs_f64() / RECOVERY_DOUBLING.as_secs_f64();
        if quiet <= 1.0 {
            cut.rate
        } else {
            (cut.rate * (quiet - 1.0).exp2()).min(base_rate)
        }
    }

    /// Tokens earned since the last update (at the rate of the interval's start, which is
    /// the lower one while recovering), up to `burst`.
    fn refill(&mut self, now: Instant, burst: f64, base_rate: f64) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate_at(self.last, base_rate)).min(burst);
        self.last = now;
    }
}

/// Token buckets per region with adaptive slow-down. Share one per run (`Arc`).
#[derive(Debug)]
pub struct RegionLimiter {
    base_rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// The lowest rate, as a fraction of the configured one.
pub const MIN_RATE_FRACTION: f64 = 1.0 / 16.0;
/// Without throttling, the rate doubles every this long (up to the configured rate).
pub const RECOVERY_DOUBLING: Duration = Duration::from_secs(2);
/// Throttled answers this close to a cut are the same burst and do not cut again.
pub const CUT_COOLDOWN: Duration = Duration::from_millis(500);

impl RegionLimiter {
    /// `rate` requests per second per region, no bursts. `rate <= 0` (or not finite): no limit.
    pub fn new(rate: f64) -> Self {
        Self::with_burst(rate, 1)
    }

    /// Like [`RegionLimiter::new`], allowing `burst` requests at once after a quiet period.
    pub fn with_burst(rate: f64, burst: u32) -> Self {
        let base_rate = if rate.is_finite() && rate > 0.0 { rate } else { 0.0 };
        RegionLimiter { base_rate, burst: f64::from(burst.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    fn unlimited(&self) -> bool {
        self.base_rate == 0.0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Bucket>> {
        // A panic elsewhere must not wedge every task; the map stays consistent.
        self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with_bucket<T>(&self, region: &str, now: Instant, f: impl FnOnce(&mut Bucket) -> T) -> T {
        let mut map = self.lock();
        let bucket =
            map.entry(region.to_owned()).or_insert_with(|| Bucket { tokens: self.burst, last: now, cut: None });
        bucket.refill(now, self.burst, self.base_rate);
        f(bucket)
    }

    /// Waits for the region's next request slot. Refuses (without waiting) when the slot
    /// comes after the deadline.
    pub async fn acquire(&self, region: &str, deadline: Deadline) -> Result<(), WouldPassDeadline> {
        if self.unlimited() {
            return Ok(());
        }
        let base = self.base_rate;
        let now = Instant::now();
        let wait = self.with_bucket(region, now, |b| {
            b.tokens -= 1.0;
            if b.tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-b.tokens / b.rate_at(now, base))
            }
        });
        if wait.is_zero() {
            return Ok(());
        }
        if deadline.remaining().is_some_and(|left| left < wait) {
            // Give the reservation back (callers behind it just wait a little longer).
            self.with_bucket(region, Instant::now(), |b| b.tokens += 1.0);
            return Err(WouldPassDeadline);
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// The region answered `ThrottlingException`: slow down.
    pub fn on_throttle(&self, region: &str) {
        if self.unlimited() {
            return;
        }
        let (base, floor) = (self.base_rate, self.base_rate * MIN_RATE_FRACTION);
        let now = Instant::now();
        self.with_bucket(region, now, |b| {
            let rate = b.rate_at(now, base);
            b.cut = Some(match b.cut {
                // The same burst as the last cut: hold the rate, restart the quiet time.
                Some(cut) if now.saturating_duration_since(cut.at) < CUT_COOLDOWN => Cut { last_throttle: now, ..cut },
                _ => Cut { rate: (rate / 2.0).max(floor), at: now, last_throttle: now },
            });
            // The server's bucket is empty: do not spend a saved-up token right away.
            b.tokens = b.tokens.min(0.0);
        });
    }

    /// The region's current rate (requests per second; `0` = no limit).
    pub fn rate(&self, region: &str) -> f64 {
        if self.unlimited() {
            return 0.0;
        }
        let now = Instant::now();
        self.with_bucket(region, now, |b| b.rate_at(now, self.base_rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn acquire_n(l: &RegionLimiter, region: &str, n: usize) -> Duration {
        let t = Instant::now();
        for _ in 0..n {
            l.acquire(region, Deadline::none()).await.expect("no deadline");
        }
        t.elapsed()
    }

    fn near(d: Duration, secs: f64) -> bool {
        (d.as_secs_f64() - secs).abs() < 0.01
    }

    #[tokio::test(start_paused = true)]
    async fn paces_each_region_at_its_rate() {
        let l = RegionLimiter::new(2.0);
        // The first request goes at once, then one every 0.5 s.
        let d = acquire_n(&l, "us-east-1", 5).await;
        assert!(near(d, 2.0), "{d:?}");
        // Another region has its own bucket.
        assert!(near(acquire_n(&l, "eu-west-1", 1).await, 0.0));
        // Concurrent callers share the region's rate.
        let l = std::sync::Arc::new(RegionLimiter::new(4.0));
        let t = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let l = l.clone();
            set.spawn(async move { l.acquire("r", Deadline::none()).await });
        }
        while let Some(r) = set.join_next().await {
            r.expect("task").expect("no deadline");
        }
        assert!(near(t.elapsed(), 7.0 / 4.0), "{:?}", t.elapsed());
        // A burst allowance lets that many through at once after a quiet period.
        let l = RegionLimiter::with_burst(2.0, 3);
        assert!(near(acquire_n(&l, "r", 3).await, 0.0));
        assert!(near(acquire_n(&l, "r", 1).await, 0.5));
        // No limit at all.
        assert!(near(acquire_n(&RegionLimiter::new(0.0), "r", 100).await, 0.0));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_and_quiet_time_restores_it() {
        let l = RegionLimiter::new(2.0);
        acquire_n(&l, "r", 1).await;
        l.on_throttle("r");
        // Several throttled answers of one burst count once.
        l.on_throttle("r");
        l.on_throttle("r");
        assert_eq!(l.rate("r"), 1.0);
        assert_eq!(l.rate("other"), 2.0, "only the throttled region slows down");
        // One request per second now, and the saved-up token is gone.
        let d = acquire_n(&l, "r", 2).await;
        assert!(near(d, 2.0), "{d:?}");
        // Throttles a second apart halve again (the first one after some recovery), down to the floor.
        for _ in 0..5 {
            tokio::time::advance(Duration::from_secs(1)).await;
            l.on_throttle("r");
        }
        assert_eq!(l.rate("r"), 2.0 * MIN_RATE_FRACTION);
        // The cut rate holds for one RECOVERY_DOUBLING, then doubles every RECOVERY_DOUBLING.
        tokio::time::advance(RECOVERY_DOUBLING).await;
        assert_eq!(l.rate("r"), 2.0 * MIN_RATE_FRACTION);
        tokio::time::advance(RECOVERY_DOUBLING).await;
        assert!((l.rate("r") - 4.0 * MIN_RATE_FRACTION).abs() < 1e-9, "{}", l.rate("r"));
        tokio::time::advance(RECOVERY_DOUBLING * 2).await;
        assert!((l.rate("r") - 16.0 * MIN_RATE_FRACTION).abs() < 1e-9, "{}", l.rate("r"));
        tokio::time::advance(RECOVERY_DOUBLING * 10).await;
        assert_eq!(l.rate("r"), 2.0, "never above the configured rate");
        let d = acquire_n(&l, "r", 3).await;
        assert!(near(d, 1.0), "back to 2/s: {d:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn never_waits_past_the_deadline() {
        let l = RegionLimiter::new(0.5);
        acquire_n(&l, "r", 1).await;
        // The next slot is 2 s away; a deadline in 100 ms (wall clock) refuses at once.
        let t = Instant::now();
        let r = l.acquire("r", Deadline::after(Duration::from_millis(100))).await;
        assert_eq!(r, Err(WouldPassDeadline));
        assert!(near(t.elapsed(), 0.0));
        // The refused reservation was given back: the next caller still waits 2 s, not 4 s.
        assert!(near(acquire_n(&l, "r", 1).await, 2.0));
    }
}
