//! Alerts published to an SNS topic: [`SnsSink`], the [`AlertSink`] behind
//! `--alerts sns:TOPIC_ARN`.
//!
//! Each alert is one `Publish` with `TopicArn`, `Subject`, `Message` and the
//! `MessageAttributes` `severity`, `event_name` and `detector` (all `String`), as
//! [`AlertText`] formats them. `Ok` from [`AlertSink::deliver`] means SNS accepted the
//! message; any failure is a [`SinkError`] naming the topic and the error code, so the
//! collector leaves the alert pending and the next run publishes it again (at least once,
//! never recorded as sent without a publish).
//!
//! **Sync over async.** [`AlertSink`] is a sync trait called from the collector's plain
//! thread, so the sink owns a small current-thread tokio runtime and `block_on`s each
//! publish. It must not be used from inside an async runtime (tokio forbids nested
//! `block_on`); it reports that as a delivery error instead of panicking.
//!
//! **Retries** are the sink's own, not the SDK's (which are turned off here): throttling
//! (`Throttled`, `KMSThrottling`, HTTP 429, ...), server errors (5xx), timeouts and
//! transport failures are retried with exponential backoff and full jitter
//! ([`PublishRetry`], 4 attempts by default); everything else (`NotFound`,
//! `AuthorizationError`, `InvalidParameter`, `KMSDisabled`, ...) fails at once. The SDK's
//! standard retry does not know `KMSThrottling`, and counting attempts here lets the error
//! say how many were made.
//!
//! **Region.** The client publishes in the topic's region (from its ARN), whatever the
//! chain's default region is: SNS only knows a topic in its own region.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::config::retry::RetryConfig;
use aws_sdk_sns::config::Region;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::publish::PublishError;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

use crate::alert_text::AlertText;
use crate::report::RaisedAlert;
use crate::sink::{AlertSink, SinkError, TopicArn};

/// How failed publishes are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishRetry {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The backoff cap before the second attempt; it doubles for each next one.
    pub base: Duration,
    /// The largest backoff cap.
    pub max: Duration,
}

impl Default for PublishRetry {
    fn default() -> Self {
        PublishRetry { attempts: 4, base: Duration::from_millis(200), max: Duration::from_secs(5) }
    }
}

impl PublishRetry {
    /// The wait before attempt `n + 1` after `n` failed ones: uniform in `[0, cap]` (full
    /// jitter), `cap = min(max, base * 2^(n-1))`.
    fn backoff(&self, failed: u32) -> Duration {
        let cap = self.base.saturating_mul(1u32 << failed.saturating_sub(1).min(16)).min(self.max);
        cap.mul_f64(fastrand::f64())
    }
}

/// Publishes each alert to one SNS topic.
pub struct SnsSink {
    client: Client,
    topic_arn: String,
    retry: PublishRetry,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for SnsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsSink").field("topic_arn", &self.topic_arn).field("retry", &self.retry).finish()
    }
}

/// What one failed publish means for the retry loop.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// Slow down and try again (throttling, 429).
    Throttled { code: String, detail: String },
    /// Try again (5xx, timeout, transport, an unreadable answer).
    Retryable { code: String, detail: String },
    /// Trying again would not help.
    Fatal { code: String, detail: String },
}

impl SnsSink {
    /// The sink for `topic_arn` over the standard SDK chain (credentials, `AWS_PROFILE`,
    /// `AWS_ENDPOINT_URL[_SNS]`, ...), with every request sent to `endpoint` when given
    /// (`--endpoint-url`). The error names the topic.
    pub fn connect(topic_arn: &str, endpoint: Option<&str>) -> Result<Self, SinkError> {
        let rt = runtime(topic_arn)?;
        let config = rt.block_on(crate::aws::sdk_config(endpoint));
        Self::build(rt, &config, topic_arn)
    }

    /// The sink for `topic_arn` from an SDK config (region taken from the ARN, the SDK's
    /// retries off, the adapters' timeouts).
    pub fn from_sdk_config(config: &aws_config::SdkConfig, topic_arn: &str) -> Result<Self, SinkError> {
        Self::build(runtime(topic_arn)?, config, topic_arn)
    }

    /// The sink over an existing client (tests: a mocked client). The client's region
    /// and retry settings are used as they are.
    pub fn with_client(client: Client, topic_arn: &str) -> Result<Self, SinkError> {
        TopicArn::parse(topic_arn).map_err(|e| sink_error(topic_arn, e))?;
        Ok(SnsSink {
            client,
            topic_arn: topic_arn.to_string(),
            retry: PublishRetry::default(),
            rt: runtime(topic_arn)?,
        })
    }

    /// Use `retry` instead of [`PublishRetry::default`].
    pub fn with_retry(mut self, retry: PublishRetry) -> Self {
        self.retry = PublishRetry { attempts: retry.attempts.max(1), ..retry };
        self
    }

    /// The client configuration the sink uses: `config` with the topic's region, the SDK's
    /// retries off and the adapters' timeouts.
    pub fn client_config(config: &aws_config::SdkConfig, topic_arn: &str) -> Result<aws_sdk_sns::Config, SinkError> {
        let arn = TopicArn::parse(topic_arn).map_err(|e| sink_error(topic_arn, e))?;
        Ok(aws_sdk_sns::config::Builder::from(config)
            .region(Region::new(arn.region.to_string()))
            .retry_config(RetryConfig::disabled())
            .timeout_config(crate::aws::timeouts())
            .build())
    }

    fn build(rt: tokio::runtime::Runtime, config: &aws_config::SdkConfig, topic_arn: &str) -> Result<Self, SinkError> {
        let client = Client::from_conf(Self::client_config(config, topic_arn)?);
        Ok(SnsSink { client, topic_arn: topic_arn.to_string(), retry: PublishRetry::default(), rt })
    }

    /// The topic.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Publish one formatted alert, retrying what can be retried; the message id.
    async fn publish(&self, text: &AlertText) -> Result<String, SinkError> {
        let mut attributes = HashMap::new();
        for (name, value) in &text.attributes {
            let v = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| sink_error(&self.topic_arn, format!("message attribute `{name}`: {e}")))?;
            attributes.insert((*name).to_string(), v);
        }
        let mut failed = 0;
        loop {
            let result = self
                .client
                .publish()
                .topic_arn(&self.topic_arn)
                .subject(&text.subject)
                .message(&text.body)
                .set_message_attributes(Some(attributes.clone()))
                .send()
                .await;
            let failure = match result {
                Ok(out) => return Ok(out.message_id().unwrap_or_default().to_string()),
                Err(e) => classify(&e),
            };
            failed += 1;
            let (what, code, detail, retry) = match failure {
                Failure::Throttled { code, detail } => ("throttled by SNS", code, detail, true),
                Failure::Retryable { code, detail } => ("publish failed", code, detail, true),
                Failure::Fatal { code, detail } => ("publish failed", code, detail, false),
            };
            if !retry || failed >= self.retry.attempts {
                let tries = if retry { "gave up" } else { "not retryable" };
                return Err(sink_error(
                    &self.topic_arn,
                    format!("{what} ({code}) after {failed} attempt(s), {tries}: {detail}"),
                ));
            }
            let wait = self.retry.backoff(failed);
            tracing::warn!(
                "sns: {what} ({code}) for {}, attempt {failed} of {}; retrying in {wait:?}: {detail}",
                self.topic_arn,
                self.retry.attempts
            );
            tokio::time::sleep(wait).await;
        }
    }
}

impl AlertSink for SnsSink {
    fn describe(&self) -> String {
        format!("sns:{}", self.topic_arn)
    }

    fn deliver(&mut self, alert: &RaisedAlert) -> Result<(), SinkError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(sink_error(
                &self.topic_arn,
                "the SNS sink was called from inside an async runtime; it must run on a plain thread".into(),
            ));
        }
        let text = AlertText::of(alert);
        let id = self.rt.block_on(self.publish(&text))?;
        tracing::debug!("sns: alert {} published to {} as message {id}", alert.dedup_key, self.topic_arn);
        Ok(())
    }
}

/// The sink's runtime: one thread (the caller's), timers and I/O on.
fn runtime(topic_arn: &str) -> Result<tokio::runtime::Runtime, SinkError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| sink_error(topic_arn, format!("cannot start the async runtime: {e}")))
}

fn sink_error(topic_arn: &str, detail: String) -> SinkError {
    SinkError { sink: format!("sns:{topic_arn}"), detail }
}

/// Sorts a failed publish into throttled, retryable or fatal, with the SNS error code (or
/// `HTTP <status>`, `Timeout`, `Transport`) and the most useful message.
fn classify(err: &SdkError<PublishError, HttpResponse>) -> Failure {
    let status = err.raw_response().map(|r| r.status().as_u16());
    let detail = match err.message() {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => DisplayErrorContext(err).to_string(),
    };
    let code = err.code().map(str::to_string);
    if code.as_deref().is_some_and(crate::aws::is_throttling_code) || status == Some(429) {
        return Failure::Throttled { code: code.unwrap_or_else(|| "HTTP 429".into()), detail };
    }
    let http = |s: Option<u16>| s.map_or_else(|| "no response".to_string(), |s| format!("HTTP {s}"));
    match err {
        SdkError::TimeoutError(_) => Failure::Retryable { code: "Timeout".into(), detail },
        SdkError::DispatchFailure(_) => Failure::Retryable { code: "Transport".into(), detail },
        SdkError::ConstructionFailure(_) => Failure::Fatal { code: "RequestNotSent".into(), detail },
        _ if status.is_some_and(|s| s >= 500) => Failure::Retryable { code: code.unwrap_or(http(status)), detail },
        SdkError::ServiceError(_) => Failure::Fatal { code: code.unwrap_or(http(status)), detail },
        // An answer that does not parse, or a kind of failure added later: try again.
        _ => Failure::Retryable { code: code.unwrap_or(http(status)), detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_full_jitter() {
        let r = PublishRetry { attempts: 10, base: Duration::from_millis(100), max: Duration::from_millis(350) };
        for _ in 0..200 {
            assert!(r.backoff(1) <= Duration::from_millis(100));
            assert!(r.backoff(2) <= Duration::from_millis(200));
            assert!(r.backoff(3) <= Duration::from_millis(350));
            assert!(r.backoff(40) <= Duration::from_millis(350));
        }
        // Jitter: not always the cap.
        assert!((0..50).map(|_| r.backoff(3)).any(|d| d < Duration::from_millis(340)));
    }
}
