//! Rate limiting, fault injection and counters: everything about a LookupEvents request that is
//! decided before the query runs.
//!
//! Order for each LookupEvents request: count it, refuse it for a not-opted-in region, take a
//! token from the region's bucket (none left: `ThrottlingException`), then a throttle storm
//! covering the region (`ThrottlingException`), then the next queued fault for the region, then
//! the next queued fault for any region. Only a request that passes all of these runs the query.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

/// A fault to inject with [`crate::LookupServer::fail_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status (500, 502, 503, 504, …) and a JSON error body
    /// (`InternalFailure` for 500, `ServiceUnavailable` for 503, `ServerError` otherwise).
    ServerError(u16),
    /// Answer with HTTP 400 `ThrottlingException`, as if the rate limit had been hit.
    Throttle,
}

/// Counters, from [`crate::LookupServer::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// LookupEvents requests received, per region (including refused ones).
    pub requests_by_region: BTreeMap<String, u64>,
    /// LookupEvents requests answered with ThrottlingException (rate limit, storm or injected), per region.
    pub throttled_by_region: BTreeMap<String, u64>,
    /// Faults taken from the `fail_next` queues (both kinds).
    pub errors_injected: u64,
    /// Successful LookupEvents responses.
    pub pages_served: u64,
    /// Events in all successful LookupEvents responses.
    pub events_served: u64,
    /// DescribeRegions requests answered.
    pub describe_regions_requests: u64,
}

/// What to do with a request after the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Run the query.
    Serve,
    /// Refuse: the region is not enabled for the account.
    NotOptedIn,
    /// `ThrottlingException`.
    Throttle,
    /// An injected 5xx.
    ServerError(u16),
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Mutable control state, kept behind one mutex in the server.
#[derive(Debug)]
pub struct Control {
    default_rate: f64,
    burst: f64,
    rates: HashMap<String, f64>,
    buckets: HashMap<String, Bucket>,
    storms: Vec<(Option<String>, Instant)>,
    faults: HashMap<Option<String>, VecDeque<Fault>>,
    pub(crate) stats: Stats,
}

/// Whether a rate means "no limit".
fn unlimited(rate: f64) -> bool {
    !rate.is_finite() || rate <= 0.0
}

impl Control {
    /// Limits of `rate` requests per second with bursts of `burst`, for every region.
    pub fn new(rate: f64, burst: u32) -> Self {
        Self {
            default_rate: rate,
            burst: f64::from(burst.max(1)),
            rates: HashMap::new(),
            buckets: HashMap::new(),
            storms: Vec::new(),
            faults: HashMap::new(),
            stats: Stats::default(),
        }
    }

    /// Sets a region's rate (requests per second); ≤ 0 or non-finite means unlimited.
    pub fn set_rate(&mut self, region: &str, rate: f64) {
        self.rates.insert(region.to_owned(), rate);
    }

    /// Queues `n` faults for a region (`None`: whichever region asks first).
    pub fn fail_next(&mut self, region: Option<&str>, n: usize, fault: Fault) {
        self.faults.entry(region.map(str::to_owned)).or_default().extend(std::iter::repeat_n(fault, n));
    }

    /// Throttles every request for a region (`None`: all regions) until `duration` from now.
    pub fn throttle_storm(&mut self, region: Option<&str>, duration: Duration) {
        self.storms.push((region.map(str::to_owned), Instant::now() + duration));
    }

    fn take_token(&mut self, region: &str, now: Instant) -> bool {
        let rate = self.rates.get(region).copied().unwrap_or(self.default_rate);
        if unlimited(rate) {
            return true;
        }
        let burst = self.burst;
        let b = self.buckets.entry(region.to_owned()).or_insert(Bucket { tokens: burst, last: now });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn pop_fault(&mut self, key: Option<&str>) -> Option<Fault> {
        let key = key.map(str::to_owned);
        let q = self.faults.get_mut(&key)?;
        let f = q.pop_front();
        if q.is_empty() {
            self.faults.remove(&key);
        }
        f
    }

    /// Runs the checks for one LookupEvents request and updates the counters.
    pub fn admit(&mut self, region: &str, not_opted_in: bool) -> Verdict {
        *self.stats.requests_by_region.entry(region.to_owned()).or_default() += 1;
        if not_opted_in {
            return Verdict::NotOptedIn;
        }
        let now = Instant::now();
        self.storms.retain(|(_, until)| *until > now);
        let verdict = if !self.take_token(region, now)
            || self.storms.iter().any(|(r, _)| r.as_deref().is_none_or(|r| r == region))
        {
            Verdict::Throttle
        } else if let Some(f) = self.pop_fault(Some(region)).or_else(|| self.pop_fault(None)) {
            self.stats.errors_injected += 1;
            match f {
                Fault::Throttle => Verdict::Throttle,
                Fault::ServerError(code) => Verdict::ServerError(code),
            }
        } else {
            Verdict::Serve
        };
        if verdict == Verdict::Throttle {
            *self.stats.throttled_by_region.entry(region.to_owned()).or_default() += 1;
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_faults_and_storms() {
        let mut c = Control::new(2.0, 2);
        assert_eq!(c.admit("a", false), Verdict::Serve);
        assert_eq!(c.admit("a", false), Verdict::Serve);
        assert_eq!(c.admit("a", false), Verdict::Throttle);
        assert_eq!(c.admit("b", false), Verdict::Serve, "buckets are per region");
        c.set_rate("c", 0.0);
        c.fail_next(None, 1, Fault::ServerError(503));
        c.fail_next(Some("c"), 1, Fault::Throttle);
        assert_eq!(c.admit("c", false), Verdict::Throttle, "region queue first");
        assert_eq!(c.admit("c", false), Verdict::ServerError(503));
        assert_eq!(c.admit("c", false), Verdict::Serve);
        c.throttle_storm(Some("c"), Duration::from_secs(60));
        assert_eq!(c.admit("c", false), Verdict::Throttle);
        assert_eq!(c.admit("d", false), Verdict::Serve);
        assert_eq!(c.admit("e", true), Verdict::NotOptedIn);
        assert_eq!(c.stats.errors_injected, 2);
        assert_eq!(c.stats.throttled_by_region.get("c"), Some(&2));
        assert_eq!(c.stats.requests_by_region.get("c"), Some(&4));
    }
}
