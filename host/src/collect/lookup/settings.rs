//! What the LookupEvents source reads and how hard it may push: source toggles, the SSO
//! region, `--regions`, concurrency, the window, the rate limit, retries and slice sizing.
//!
//! [`SourceSettings::from_env`] reads the Lambda/CLI environment variables (names are the
//! constants below, shared with `template.yaml`). A malformed value is an error that names
//! the variable and the value; an empty value counts as unset.

use std::time::Duration;

use crate::config::parse_bool;
use crate::window::WindowConfig;

/// Collect `iam.amazonaws.com` events (us-east-1). Default `true`.
pub const PROCESS_IAM_EVENTS: &str = "PROCESS_IAM_EVENTS";
/// Collect `sts.amazonaws.com` events (every enabled region). Default `true`.
pub const PROCESS_STS_EVENTS: &str = "PROCESS_STS_EVENTS";
/// Collect `signin.amazonaws.com` events (us-east-1). Default `true`.
pub const PROCESS_SIGNIN_EVENTS: &str = "PROCESS_SIGNIN_EVENTS";
/// Collect `sso.amazonaws.com` events (us-east-1 and [`SSO_REGION`]). Default `true`.
pub const PROCESS_SSO_EVENTS: &str = "PROCESS_SSO_EVENTS";
/// The region of the IAM Identity Center instance, read in addition to us-east-1.
pub const SSO_REGION: &str = "SSO_REGION";
/// How many (region, source) tasks run at once. Default 5.
pub const MAX_WORKERS: &str = "MAX_WORKERS";

/// Every variable [`SourceSettings::from_env`] reads.
pub const ENV_VARS: [&str; 6] =
    [PROCESS_IAM_EVENTS, PROCESS_STS_EVENTS, PROCESS_SIGNIN_EVENTS, PROCESS_SSO_EVENTS, SSO_REGION, MAX_WORKERS];

/// A setting that cannot be used. The message names the variable and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {var}=`{value}`: expected {expected}")]
pub struct SettingsError {
    pub var: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// Retries of one LookupEvents call after `ThrottlingException` or a server error:
/// exponential backoff with full jitter, `base * 2^(attempt-1)` capped at `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Calls in all, the first included (at least 1).
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 8, base: Duration::from_millis(250), cap: Duration::from_secs(20) }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1-based): uniform in `[0, min(cap, base * 2^(attempt-1))]`.
    pub fn backoff(&self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let exp = 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
        let ceiling = (self.base.as_secs_f64() * exp).min(self.cap.as_secs_f64());
        Duration::from_secs_f64(ceiling * rng.f64())
    }
}

/// How a task cuts its window into slices. A slice is the unit of checkpointing: it is
/// paged completely, then the checkpoint moves to its end.
///
/// The first slice of a run is [`WindowConfig::slice`] long (6 hours by default). Each next
/// slice is sized from the event density of the last one so that it holds about
/// `target_events` (at most 4× longer or shorter than the last, within `[min, max]`; after
/// an empty slice, 4× longer without the `max` cap): an empty 90-day initial load costs a
/// handful of requests instead of 360, and a busy account still gets slices short enough
/// to checkpoint often. A long slice after empty ones that turns out busy is handed over
/// every `flush_pages`; if the deadline cuts it, the next run restarts from the last
/// checkpoint with a first slice of [`WindowConfig::slice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceTuning {
    /// Shortest slice, seconds.
    pub min: i64,
    /// Longest slice sized from a measured density, seconds (slices after an empty one
    /// may be longer).
    pub max: i64,
    /// Events a slice should hold (1000 = 20 full pages).
    pub target_events: usize,
    /// Inside a long slice, hand over what was read every this many pages (bounds memory;
    /// these batches carry no checkpoint).
    pub flush_pages: usize,
}

impl Default for SliceTuning {
    fn default() -> Self {
        SliceTuning { min: 5 * 60, max: 7 * 86_400, target_events: 1000, flush_pages: 20 }
    }
}

/// Settings of the LookupEvents source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSettings {
    pub process_iam: bool,
    pub process_sts: bool,
    pub process_signin: bool,
    pub process_sso: bool,
    /// Read `sso.amazonaws.com` here too (besides us-east-1).
    pub sso_region: Option<String>,
    /// `--regions`: only tasks in these regions run, and DescribeRegions is not called
    /// (the list is taken as the enabled regions).
    pub regions: Option<Vec<String>>,
    /// Tasks running at once (at least 1).
    pub max_workers: usize,
    pub window: WindowConfig,
    /// `--since` (epoch seconds): start no later than this, for a backfill. Still clamped
    /// to the lookback floor (90 days: all LookupEvents keeps).
    pub since: Option<i64>,
    /// LookupEvents requests per second per region (AWS allows 2 per account and region).
    /// `0` or less: no client-side limit.
    pub rate_per_region: f64,
    pub retry: RetryPolicy,
    pub slicing: SliceTuning,
}

impl Default for SourceSettings {
    fn default() -> Self {
        SourceSettings {
            process_iam: true,
            process_sts: true,
            process_signin: true,
            process_sso: true,
            sso_region: None,
            regions: None,
            max_workers: 5,
            window: WindowConfig::default(),
            since: None,
            rate_per_region: 2.0,
            retry: RetryPolicy::default(),
            slicing: SliceTuning::default(),
        }
    }
}

impl SourceSettings {
    /// Defaults overridden by the process environment ([`ENV_VARS`]).
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Defaults overridden by `get(name)` for each of [`ENV_VARS`] (for tests and for
    /// callers with their own environment).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut s = SourceSettings::default();
        let value = |var: &str| get(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        for (var, slot) in [
            (PROCESS_IAM_EVENTS, &mut s.process_iam),
            (PROCESS_STS_EVENTS, &mut s.process_sts),
            (PROCESS_SIGNIN_EVENTS, &mut s.process_signin),
            (PROCESS_SSO_EVENTS, &mut s.process_sso),
        ] {
            if let Some(v) = value(var) {
                *slot = parse_bool(&v).ok_or_else(|| SettingsError {
                    var,
                    value: v.clone(),
                    expected: "true or false (also 1/0, yes/no)",
                })?;
            }
        }
        if let Some(v) = value(SSO_REGION) {
            if !valid_region_name(&v) {
                return Err(SettingsError { var: SSO_REGION, value: v, expected: "a region name such as eu-west-1" });
            }
            s.sso_region = Some(v);
        }
        if let Some(v) = value(MAX_WORKERS) {
            s.max_workers = v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| SettingsError {
                var: MAX_WORKERS,
                value: v.clone(),
                expected: "a whole number of at least 1",
            })?;
        }
        Ok(s)
    }
}

/// Whether `name` looks like an AWS region (`eu-west-1`, `us-gov-west-1`, `ap-southeast-3`):
/// lowercase words joined by `-`, ending with a number.
pub fn valid_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        && parts.first().is_some_and(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-3"] {
            assert!(valid_region_name(ok), "{ok}");
        }
        for bad in ["", "us", "US-EAST-1", "us-east-", "us--1", "us-east-one", "1-east-1"] {
            assert!(!valid_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn backoff_is_bounded_by_the_exponential_ceiling() {
        let p = RetryPolicy { max_attempts: 8, base: Duration::from_millis(100), cap: Duration::from_secs(1) };
        let mut rng = fastrand::Rng::with_seed(7);
        for attempt in 1..=10u32 {
            let ceiling = Duration::from_millis(100 * 2u64.pow(attempt - 1)).min(Duration::from_secs(1));
            let samples: Vec<Duration> = (0..200).map(|_| p.backoff(attempt, &mut rng)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter: spread over the whole range, not stuck at one end.
            assert!(samples.iter().any(|d| *d < ceiling / 4) && samples.iter().any(|d| *d > ceiling * 3 / 4));
        }
    }
}
