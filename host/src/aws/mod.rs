//! The only place that names `aws_sdk_*`: adapters from the AWS SDK for Rust to the
//! library's traits. Everything else talks to these traits, so tests can use local servers.
//!
//! - [`cloudtrail`] — `SdkLookup`, LookupEvents and DescribeRegions behind the source's
//!   `LookupApi` trait.
//! - [`ec2`] — DescribeRegions.
//! - [`s3`] — an S3 prefix as a source of trail files ([`crate::collect::trail::ObjectSource`]).
//! - [`dynamodb`] — the DynamoDB store ([`crate::store::Store`] over the events, control and
//!   alerts tables).
//! - [`sns`] — `SnsSink`, alerts published to an SNS topic ([`crate::sink::AlertSink`]); it
//!   retries throttling and server errors itself (the SDK's retries are off there too).
//! - [`s3_put`] — an S3 prefix as the export target ([`crate::export::object_store::ObjectStore`]).
//! - [`athena`] — the Athena engine of `query run` ([`crate::analytics::QueryEngine`]).
//!
//! Configuration comes from the standard SDK chain ([`sdk_config`]): credentials, region
//! and profile from the environment and `~/.aws`, and endpoint overrides from
//! `AWS_ENDPOINT_URL` (every service) or `AWS_ENDPOINT_URL_CLOUDTRAIL` /
//! `AWS_ENDPOINT_URL_EC2` (one service), or `endpoint_url` / `services` in the profile. That
//! is how the CLI is pointed at a local server. The SDK's own retries are turned off in the
//! adapters: the collector's limiter and retry policy are the only ones, and they count.

pub mod athena;
pub mod cloudtrail;
pub mod dynamodb;
pub mod ec2;
pub mod s3;
pub mod s3_put;
pub mod sns;

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_cloudtrail::config::http::HttpResponse;
use aws_sdk_cloudtrail::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::collect::lookup::LookupError;

/// The region used for account-wide calls (DescribeRegions) when the chain names none.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Connecting must not take longer than this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One request (LookupEvents page, DescribeRegions) must not take longer than this.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The shared SDK configuration from the standard chain (`BehaviorVersion::latest()`):
/// environment (including `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`), profiles,
/// SSO, IMDS/ECS credentials. `endpoint`, when given, overrides every service's endpoint
/// (it wins over the service-specific variables).
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Timeouts of every adapter client.
pub(crate) fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).operation_attempt_timeout(ATTEMPT_TIMEOUT).build()
}

/// Whether an error code means "slow down" (CloudTrail `ThrottlingException`, EC2
/// `RequestLimitExceeded`, `TooManyRequestsException`, ...).
pub(crate) fn is_throttling_code(code: &str) -> bool {
    code.contains("Throttl") || code.contains("TooManyRequests") || code == "RequestLimitExceeded" || code == "SlowDown"
}

/// Maps an SDK error to what the retry policy needs: throttling, retryable (5xx,
/// transport, timeout) or fatal (with the error code).
pub(crate) fn classify<E>(err: SdkError<E, HttpResponse>) -> LookupError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_owned);
    let detail = DisplayErrorContext(&err).to_string();
    if code.as_deref().is_some_and(is_throttling_code) || status == Some(429) {
        return LookupError::Throttled;
    }
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => LookupError::Server { status: None, detail },
        _ if status.is_some_and(|s| s >= 500) => LookupError::Server { status, detail },
        SdkError::ServiceError(_) => {
            let detail = err.message().map_or(detail, str::to_owned);
            LookupError::Fatal { code: code.unwrap_or_else(|| format!("HTTP {}", status.unwrap_or(0))), detail }
        }
        SdkError::ConstructionFailure(_) => LookupError::Fatal { code: "RequestNotSent".into(), detail },
        // A response that does not parse, or a kind of failure added later: try again.
        _ => LookupError::Server { status, detail },
    }
}
