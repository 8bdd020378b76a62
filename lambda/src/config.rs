//! The functions' configuration, read once at cold start from the environment the SAM
//! template sets (the original's variable names, plus the plugin settings). An invalid value
//! fails the cold start with a message naming the variable, the value and what was expected.

use iam_tracker::collect::lookup::SourceSettings;
use iam_tracker::config::{parse_bool, Config};
use iam_tracker::filters::Filters;

/// An environment variable the function cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { var, problem: problem.into() }
}

/// The three DynamoDB tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub events: String,
    pub control: String,
    pub alerts: String,
}

/// `PLUGINS_S3_URI` + `PLUGINS_SHA256`: where third-party components are and the digests
/// they must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThirdParty {
    /// `s3://bucket/prefix/`.
    pub uri: String,
    /// `(file name, lowercase hex SHA-256)`.
    pub allowed: Vec<(String, String)>,
}

/// Everything the tracker reads at cold start.
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    pub tables: Tables,
    pub sources: SourceSettings,
    pub filters: Filters,
    /// `ALERTS_SNS_TOPIC_ARN` when `ALERTS_ENABLED` is true; `None` when alerts are off.
    pub alerts_topic: Option<String>,
    /// `EVENT_RETENTION_DAYS` (`None` for 0: events never expire).
    pub event_retention_days: Option<u32>,
    /// `PLUGIN_CONFIG`, parsed (the CLI's `--config` as JSON or YAML).
    pub plugin_config: Config,
    pub third_party: Option<ThirdParty>,
    /// `LOG_LEVEL` as a tracing filter directive.
    pub log_filter: String,
}

/// Everything the exporter reads at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExporterConfig {
    pub events_table: String,
    pub bucket: String,
    pub days_back: u32,
    pub log_filter: String,
}

/// Every variable [`TrackerConfig::from_vars`] reads (the template check uses this list).
pub const TRACKER_VARS: &[&str] = &[
    "EVENTS_TABLE_NAME",
    "CONTROL_TABLE_NAME",
    "ALERTS_TABLE_NAME",
    "MAX_WORKERS",
    "PROCESS_IAM_EVENTS",
    "PROCESS_STS_EVENTS",
    "PROCESS_SIGNIN_EVENTS",
    "PROCESS_SSO_EVENTS",
    "SSO_REGION",
    "FILTER_AWS_SERVICE_EVENTS",
    "FILTERED_ROLES",
    "ALERTS_ENABLED",
    "ALERTS_SNS_TOPIC_ARN",
    "EVENT_RETENTION_DAYS",
    "PLUGIN_CONFIG",
    "PLUGINS_S3_URI",
    "PLUGINS_SHA256",
    "LOG_LEVEL",
];

/// Every variable [`ExporterConfig::from_vars`] reads.
pub const EXPORTER_VARS: &[&str] = &["EVENTS_TABLE_NAME", "ANALYTICS_BUCKET_NAME", "EXPORT_DAYS_BACK", "LOG_LEVEL"];

fn required(get: &impl Fn(&str) -> Option<String>, var: &'static str) -> Result<String, ConfigError> {
    match get(var).map(|v| v.trim().to_owned()) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(err(var, "is not set; the SAM template sets it")),
    }
}

fn optional(get: &impl Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    get(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `LOG_LEVEL` (the template's DEBUG/INFO/WARNING/ERROR) as a tracing directive.
fn log_filter(get: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let level = match optional(get, "LOG_LEVEL").map(|v| v.to_ascii_uppercase()).as_deref() {
        None | Some("INFO") => "info",
        Some("DEBUG") => "debug",
        Some("WARNING" | "WARN") => "warn",
        Some("ERROR") => "error",
        Some(other) => return Err(err("LOG_LEVEL", format!("`{other}` is not DEBUG, INFO, WARNING or ERROR"))),
    };
    Ok(level.to_string())
}

/// `s3://bucket/prefix`: the bucket must be present.
fn s3_uri(var: &'static str, v: &str) -> Result<String, ConfigError> {
    let rest = v.strip_prefix("s3://").ok_or_else(|| err(var, format!("`{v}` is not an s3://bucket/prefix URI")))?;
    if rest.split('/').next().is_none_or(str::is_empty) {
        return Err(err(var, format!("`{v}` names no bucket")));
    }
    Ok(v.to_string())
}

/// `NAME.wasm=HEX,NAME2.wasm=HEX`.
pub fn parse_sha256_list(v: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for item in v.split([',', '\n', ' ']).map(str::trim).filter(|s| !s.is_empty()) {
        let (name, hex) =
            item.split_once('=').ok_or_else(|| err("PLUGINS_SHA256", format!("`{item}` is not NAME.wasm=SHA256")))?;
        let (name, hex) = (name.trim(), hex.trim().to_ascii_lowercase());
        if !name.ends_with(".wasm") || name.contains('/') {
            return Err(err("PLUGINS_SHA256", format!("`{name}` is not a component file name (NAME.wasm)")));
        }
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err("PLUGINS_SHA256", format!("the digest of `{name}` is not 64 hex digits")));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(err("PLUGINS_SHA256", format!("`{name}` is listed twice")));
        }
        out.push((name.to_string(), hex));
    }
    Ok(out)
}

impl TrackerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`TrackerConfig::from_env`], reading variables through `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let tables = Tables {
            events: required(&get, "EVENTS_TABLE_NAME")?,
            control: required(&get, "CONTROL_TABLE_NAME")?,
            alerts: required(&get, "ALERTS_TABLE_NAME")?,
        };
        let sources =
            SourceSettings::from_vars(&get).map_err(|e| err(e.var, format!("`{}` is not {}", e.value, e.expected)))?;
        let filters = Filters::from_vars(&get).map_err(|e| {
            let var = if e.contains("FILTERED_ROLES") { "FILTERED_ROLES" } else { "FILTER_AWS_SERVICE_EVENTS" };
            err(var, e)
        })?;
        let alerts_enabled = match optional(&get, "ALERTS_ENABLED") {
            None => true,
            Some(v) => parse_bool(&v).ok_or_else(|| err("ALERTS_ENABLED", format!("`{v}` is not true or false")))?,
        };
        let alerts_topic = match (alerts_enabled, optional(&get, "ALERTS_SNS_TOPIC_ARN")) {
            (false, _) => None,
            (true, Some(arn)) if arn.starts_with("arn:") && arn.split(':').count() == 6 => Some(arn),
            (true, Some(arn)) => return Err(err("ALERTS_SNS_TOPIC_ARN", format!("`{arn}` is not an SNS topic ARN"))),
            (true, None) => {
                return Err(err(
                    "ALERTS_SNS_TOPIC_ARN",
                    "is empty but ALERTS_ENABLED is true; set it or disable alerts",
                ))
            }
        };
        let event_retention_days = match optional(&get, "EVENT_RETENTION_DAYS") {
            None => None,
            Some(v) => match v.parse::<u32>() {
                Ok(0) => None,
                Ok(n) => Some(n),
                Err(_) => return Err(err("EVENT_RETENTION_DAYS", format!("`{v}` is not a whole number of days"))),
            },
        };
        let plugin_config = match optional(&get, "PLUGIN_CONFIG") {
            None => Config::default(),
            Some(text) => Config::parse_yaml(&text).map_err(|e| err("PLUGIN_CONFIG", e))?,
        };
        let third_party = match optional(&get, "PLUGINS_S3_URI") {
            None => None,
            Some(uri) => Some(ThirdParty {
                uri: s3_uri("PLUGINS_S3_URI", &uri)?,
                allowed: parse_sha256_list(&optional(&get, "PLUGINS_SHA256").unwrap_or_default())?,
            }),
        };
        Ok(TrackerConfig {
            tables,
            sources,
            filters,
            alerts_topic,
            event_retention_days,
            plugin_config,
            third_party,
            log_filter: log_filter(&get)?,
        })
    }
}

impl ExporterConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`ExporterConfig::from_env`], reading variables through `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let days_back = match optional(&get, "EXPORT_DAYS_BACK") {
            None => 1,
            Some(v) => match v.parse::<u32>() {
                Ok(n @ 1..=366) => n,
                _ => return Err(err("EXPORT_DAYS_BACK", format!("`{v}` is not a number of days from 1 to 366"))),
            },
        };
        Ok(ExporterConfig {
            events_table: required(&get, "EVENTS_TABLE_NAME")?,
            bucket: required(&get, "ANALYTICS_BUCKET_NAME")?,
            days_back,
            log_filter: log_filter(&get)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("EVENTS_TABLE_NAME", "s-events"),
        ("CONTROL_TABLE_NAME", "s-control"),
        ("ALERTS_TABLE_NAME", "s-alerts"),
        ("ALERTS_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:s-security-alerts"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = BASE.iter().copied().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).collect();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn the_template_defaults_give_a_working_config() {
        let c = TrackerConfig::from_vars(vars(BASE)).expect("valid");
        assert_eq!(c.tables.events, "s-events");
        assert_eq!(c.alerts_topic.as_deref(), Some("arn:aws:sns:us-east-1:111122223333:s-security-alerts"));
        assert_eq!(c.event_retention_days, None);
        assert!(c.third_party.is_none());
        assert_eq!(c.log_filter, "info");
    }

    #[test]
    fn every_invalid_value_names_its_variable() {
        let var_of = |extra: &[(&'static str, &'static str)]| {
            TrackerConfig::from_vars(vars(&with(extra))).expect_err("refused").var
        };
        assert_eq!(var_of(&[("EVENTS_TABLE_NAME", " ")]), "EVENTS_TABLE_NAME");
        assert_eq!(var_of(&[("ALERTS_ENABLED", "yes please")]), "ALERTS_ENABLED");
        assert_eq!(var_of(&[("ALERTS_SNS_TOPIC_ARN", "")]), "ALERTS_SNS_TOPIC_ARN");
        assert_eq!(var_of(&[("ALERTS_SNS_TOPIC_ARN", "my-topic")]), "ALERTS_SNS_TOPIC_ARN");
        assert_eq!(var_of(&[("EVENT_RETENTION_DAYS", "-3")]), "EVENT_RETENTION_DAYS");
        assert_eq!(var_of(&[("PLUGIN_CONFIG", "{disabled: 3}")]), "PLUGIN_CONFIG");
        assert_eq!(var_of(&[("PLUGINS_S3_URI", "bucket/prefix")]), "PLUGINS_S3_URI");
        assert_eq!(var_of(&[("PLUGINS_S3_URI", "s3://b/p/"), ("PLUGINS_SHA256", "x.wasm=abc")]), "PLUGINS_SHA256");
        assert_eq!(var_of(&[("LOG_LEVEL", "LOUD")]), "LOG_LEVEL");
        assert_eq!(var_of(&[("MAX_WORKERS", "many")]), "MAX_WORKERS");
        assert_eq!(var_of(&[("PROCESS_STS_EVENTS", "maybe")]), "PROCESS_STS_EVENTS");
        assert_eq!(var_of(&[("FILTER_AWS_SERVICE_EVENTS", "maybe")]), "FILTER_AWS_SERVICE_EVENTS");
        let e = TrackerConfig::from_vars(vars(&with(&[("EVENT_RETENTION_DAYS", "-3")]))).expect_err("refused");
        assert_eq!(e.to_string(), "EVENT_RETENTION_DAYS: `-3` is not a whole number of days");
    }

    #[test]
    fn alerts_off_needs_no_topic_and_plugins_parse() {
        let c = TrackerConfig::from_vars(vars(&with(&[
            ("ALERTS_ENABLED", "false"),
            ("ALERTS_SNS_TOPIC_ARN", ""),
            ("EVENT_RETENTION_DAYS", "90"),
            ("PLUGIN_CONFIG", r#"{"disabled": ["sso-app-deletion"]}"#),
            ("PLUGINS_S3_URI", "s3://plugins-bucket/iam/"),
            (
                "PLUGINS_SHA256",
                &*Box::leak(format!("a.wasm={}, b.wasm={}", "0".repeat(64), "AB".repeat(32)).into_boxed_str()),
            ),
        ])))
        .expect("valid");
        assert_eq!(c.alerts_topic, None);
        assert_eq!(c.event_retention_days, Some(90));
        assert!(c.plugin_config.is_disabled("sso-app-deletion"));
        let tp = c.third_party.expect("third party");
        assert_eq!(tp.uri, "s3://plugins-bucket/iam/");
        assert_eq!(tp.allowed, vec![("a.wasm".into(), "0".repeat(64)), ("b.wasm".into(), "ab".repeat(32))]);
    }

    #[test]
    fn exporter_reads_its_variables() {
        let c = ExporterConfig::from_vars(vars(&[
            ("EVENTS_TABLE_NAME", "s-events"),
            ("ANALYTICS_BUCKET_NAME", "s-analytics-1"),
            ("EXPORT_DAYS_BACK", "3"),
        ]))
        .expect("valid");
        assert_eq!((c.days_back, c.bucket.as_str()), (3, "s-analytics-1"));
        let e = ExporterConfig::from_vars(vars(&[
            ("EVENTS_TABLE_NAME", "t"),
            ("ANALYTICS_BUCKET_NAME", "b"),
            ("EXPORT_DAYS_BACK", "0"),
        ]))
        .expect_err("0 days");
        assert_eq!(e.var, "EXPORT_DAYS_BACK");
        assert_eq!(
            ExporterConfig::from_vars(vars(&[("EVENTS_TABLE_NAME", "t")])).expect_err("no bucket").var,
            "ANALYTICS_BUCKET_NAME"
        );
    }
}
