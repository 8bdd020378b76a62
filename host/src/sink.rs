//! Where alerts go: the [`AlertSink`] trait and the local sinks (stdout, a file).
//!
//! Delivery is at least once: the collector records an alert as pending in the store,
//! delivers it, then marks it sent. A sink that fails leaves the alert pending for the next
//! run; it is never recorded as sent. The SNS sink (`aws::sns`, feature `aws`) implements the
//! same trait; [`SinkSpec`] and [`TopicArn`] parse and check its `--alerts sns:ARN` value here.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::report::{AlertWriter, Format, RaisedAlert};

/// A failed delivery. The message names the sink and the problem.
#[derive(Debug, thiserror::Error)]
#[error("alert delivery to {sink} failed: {detail}")]
pub struct SinkError {
    pub sink: String,
    pub detail: String,
}

/// A destination for alerts.
pub trait AlertSink {
    /// A short description for reports (`stdout`, `file:/path`, `sns:arn`).
    fn describe(&self) -> String;
    /// Deliver one alert. `Ok` means it is durably handed over (written and flushed,
    /// published).
    fn deliver(&mut self, alert: &RaisedAlert) -> Result<(), SinkError>;
    /// Finish (e.g. close a JSON array). Called once at the end of a run.
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Alerts printed to stdout (text, JSON Lines).
pub struct StdoutSink {
    writer: Option<AlertWriter<io::Stdout>>,
}

impl StdoutSink {
    pub fn new(format: Format, color: bool) -> Self {
        StdoutSink { writer: Some(AlertWriter::new(io::stdout(), format, color)) }
    }
}

impl AlertSink for StdoutSink {
    fn describe(&self) -> String {
        "stdout".into()
    }

    fn deliver(&mut self, alert: &RaisedAlert) -> Result<(), SinkError> {
        let err = |e: io::Error| SinkError { sink: "stdout".into(), detail: e.to_string() };
        let w = self.writer.as_mut().ok_or_else(|| err(io::Error::other("already finished")))?;
        w.write(alert).map_err(err)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        match self.writer.take() {
            Some(w) => w.finish().map(drop).map_err(|e| SinkError { sink: "stdout".into(), detail: e.to_string() }),
            None => Ok(()),
        }
    }
}

/// Alerts appended to a file as JSON Lines, each line flushed and synced before the
/// delivery counts.
pub struct FileSink {
    path: PathBuf,
    file: File,
}

impl FileSink {
    pub fn open(path: &Path) -> Result<Self, SinkError> {
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(|e| SinkError {
            sink: format!("file:{}", path.display()),
            detail: format!("cannot open for appending: {e}"),
        })?;
        Ok(FileSink { path: path.to_path_buf(), file })
    }
}

impl AlertSink for FileSink {
    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }

    fn deliver(&mut self, alert: &RaisedAlert) -> Result<(), SinkError> {
        let err = |e: String| SinkError { sink: format!("file:{}", self.path.display()), detail: e };
        let mut line = serde_json::to_vec(alert).map_err(|e| err(e.to_string()))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(|e| err(e.to_string()))?;
        self.file.sync_data().map_err(|e| err(e.to_string()))
    }
}

/// Every sink gets every alert; the delivery fails if any sink fails (the alert stays
/// pending and is repeated to all next run: at least once, never lost).
pub struct MultiSink(pub Vec<Box<dyn AlertSink>>);

impl AlertSink for MultiSink {
    fn describe(&self) -> String {
        self.0.iter().map(|s| s.describe()).collect::<Vec<_>>().join(", ")
    }

    fn deliver(&mut self, alert: &RaisedAlert) -> Result<(), SinkError> {
        self.each(|s| s.deliver(alert))
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.each(|s| s.finish())
    }
}

impl MultiSink {
    /// Apply `f` to every sink (all of them, even after a failure); the first error.
    fn each(&mut self, mut f: impl FnMut(&mut dyn AlertSink) -> Result<(), SinkError>) -> Result<(), SinkError> {
        let mut first_err = None;
        for s in &mut self.0 {
            if let Err(e) = f(s.as_mut()) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// The environment variable naming the SNS topic (the Lambda's), used by `--alerts sns`.
pub const TOPIC_ENV: &str = "ALERTS_SNS_TOPIC_ARN";

/// A parsed `--alerts` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    Stdout,
    File(PathBuf),
    /// An SNS topic ARN (needs the AWS backends).
    Sns(String),
}

impl SinkSpec {
    /// `stdout`, `file:PATH`, `sns:TOPIC_ARN`, or `sns` alone for the topic in
    /// `$ALERTS_SNS_TOPIC_ARN`.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::parse_with_env(text, |k| std::env::var(k).ok())
    }

    /// [`SinkSpec::parse`] reading the environment through `env` (tests).
    pub fn parse_with_env(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        match text.split_once(':') {
            _ if text == "stdout" => Ok(SinkSpec::Stdout),
            _ if text == "sns" => match env(TOPIC_ENV).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
                Some(arn) => TopicArn::parse(&arn)
                    .map(|_| SinkSpec::Sns(arn.clone()))
                    .map_err(|e| format!("`sns` takes the topic from ${TOPIC_ENV}, and {e}")),
                None => Err(format!("`sns` without a topic ARN needs ${TOPIC_ENV} set (or use sns:TOPIC_ARN)")),
            },
            Some(("file", p)) if !p.is_empty() => Ok(SinkSpec::File(PathBuf::from(p))),
            Some(("sns", arn)) if arn.starts_with("arn:") => {
                TopicArn::parse(arn).map(|_| SinkSpec::Sns(arn.to_string()))
            }
            _ => Err(format!("`{text}` is not an alert sink: use stdout, file:PATH, sns:TOPIC_ARN or sns")),
        }
    }
}

/// The parts of an SNS topic ARN, `arn:PARTITION:sns:REGION:ACCOUNT:NAME`. The SNS sink
/// publishes in the topic's own region, whatever the default region is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

impl<'a> TopicArn<'a> {
    /// Checks the shape (six `:`-separated parts, service `sns`, none empty); the error
    /// names the ARN and what is wrong.
    pub fn parse(arn: &'a str) -> Result<Self, String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", partition, "sns", region, account, name]
                if [partition, region, account, name].iter().all(|p| !p.is_empty()) && !name.contains(':') =>
            {
                Ok(TopicArn { partition, region, account, name })
            }
            _ => Err(format!("`{arn}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_specs_parse_or_name_the_problem() {
        assert_eq!(SinkSpec::parse("stdout"), Ok(SinkSpec::Stdout));
        assert_eq!(SinkSpec::parse("file:/tmp/a.jsonl"), Ok(SinkSpec::File("/tmp/a.jsonl".into())));
        assert_eq!(
            SinkSpec::parse("sns:arn:aws:sns:us-east-1:1:t"),
            Ok(SinkSpec::Sns("arn:aws:sns:us-east-1:1:t".into()))
        );
        for bad in ["", "file:", "sns:topic", "slack:x", "sns:arn:aws:s3:::bucket", "sns:arn:aws:sns:us-east-1:1:"] {
            assert!(
                SinkSpec::parse_with_env(bad, |_| None).is_err_and(|e| e.contains(bad.trim_start_matches("sns:"))),
                "{bad}"
            );
        }
    }

    #[test]
    fn bare_sns_takes_the_topic_from_the_environment() {
        let arn = "arn:aws:sns:eu-west-1:123456789012:alerts";
        let env = |k: &str| (k == TOPIC_ENV).then(|| format!(" {arn} "));
        assert_eq!(SinkSpec::parse_with_env("sns", env), Ok(SinkSpec::Sns(arn.into())));
        let unset = SinkSpec::parse_with_env("sns", |_| None).expect_err("no topic");
        assert!(unset.contains(TOPIC_ENV), "{unset}");
        let empty = SinkSpec::parse_with_env("sns", |_| Some(String::new())).expect_err("empty topic");
        assert!(empty.contains(TOPIC_ENV), "{empty}");
        let bad = SinkSpec::parse_with_env("sns", |_| Some("my-topic".into())).expect_err("not an ARN");
        assert!(bad.contains(TOPIC_ENV) && bad.contains("my-topic"), "{bad}");
        // An explicit ARN wins over the environment.
        let other = "arn:aws:sns:us-east-1:1:other";
        assert_eq!(SinkSpec::parse_with_env(&format!("sns:{other}"), env), Ok(SinkSpec::Sns(other.into())));
    }

    #[test]
    fn topic_arns_are_split_into_their_parts() {
        let t = TopicArn::parse("arn:aws-cn:sns:cn-north-1:123456789012:iam-alerts.fifo").expect("valid");
        assert_eq!(
            t,
            TopicArn { partition: "aws-cn", region: "cn-north-1", account: "123456789012", name: "iam-alerts.fifo" }
        );
        for bad in ["arn:aws:sns:us-east-1:1", "arn:aws:sqs:us-east-1:1:q", "arn:aws:sns::1:t", "arn:aws:sns:r:1:t:x"] {
            assert!(TopicArn::parse(bad).is_err_and(|e| e.contains(bad)), "{bad}");
        }
    }
}
