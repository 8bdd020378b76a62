//! The `--config` file (TOML, or YAML for `.yaml`/`.yml`): deployment-wide settings,
//! detector selection, per-detector settings and exclusions. The same file is used by the
//! CLI and (later) the Lambda functions.
//!
//! ```toml
//! admin_policy_names = ["AdministratorAccess", "MyOrgAdmin"]   # replaces the default list
//! trusted_account_ids = ["111122223333"]
//! # enabled = ["root-activity", "role-trust-policy"]   # only these detectors
//! disabled = ["sso-app-deletion"]
//!
//! [detectors.role-trust-policy]        # passed to that plugin's configure(), as JSON
//!
//! [[exclusions]]                       # every given criterion must match
//! detectors = ["access-key-creation"]  # omit for all detectors (global)
//! principal_arn = "arn:aws:iam::*:role/TerraformDeployer"
//! reason = "keys are created by the deploy pipeline"
//! ```
//!
//! Every plugin receives its own table plus `admin_policy_names` and
//! `trusted_account_ids` (see the SDK's `config` module).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::event::CloudTrailEvent;

/// An unusable config file; the message names the file, key, value and expectation.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("{path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
}

/// One exclusion as written in the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionSpec {
    /// Detector ids this exclusion applies to; empty means every detector.
    #[serde(default)]
    pub detectors: Vec<String>,
    /// Glob on `userIdentity.arn` (`*` any run, `?` one character; case-sensitive).
    pub principal_arn: Option<String>,
    /// Glob on the extracted user name (case-insensitive).
    pub user_name: Option<String>,
    /// `userIdentity.type`, e.g. `AssumedRole` (case-insensitive).
    pub identity_type: Option<String>,
    /// Glob on `userIdentity.invokedBy`, e.g. `*.amazonaws.com`.
    pub invoked_by: Option<String>,
    /// Glob on `userAgent` (case-insensitive).
    pub user_agent: Option<String>,
    /// The account: `recipientAccountId`, else `userIdentity.accountId`.
    pub account_id: Option<String>,
    /// An IP address or CIDR (v4 or v6) matched against `sourceIPAddress`.
    pub source_ip: Option<String>,
    /// Why (shown in the run summary).
    pub reason: Option<String>,
}

/// A validated exclusion, ready to match.
#[derive(Debug, Clone)]
pub struct Exclusion {
    pub spec: ExclusionSpec,
    /// `exclusions[N]`, for reports.
    pub label: String,
    cidr: Option<(IpAddr, u8)>,
}

/// The parsed config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Policy names that count as admin; `None` keeps the built-in default list.
    #[serde(default)]
    pub admin_policy_names: Option<Vec<String>>,
    /// Accounts never reported as external.
    #[serde(default)]
    pub trusted_account_ids: Vec<String>,
    /// When set, only these detectors are loaded (the extractor always is).
    #[serde(default)]
    pub enabled: Option<Vec<String>>,
    /// Detector ids not to load.
    #[serde(default)]
    pub disabled: Vec<String>,
    /// Per-detector settings, passed to `configure`.
    #[serde(default)]
    pub detectors: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// Alerts to suppress (counted in the run summary, never silently dropped).
    #[serde(default, rename = "exclusions")]
    pub exclusion_specs: Vec<ExclusionSpec>,
    #[serde(skip)]
    pub exclusions: Vec<Exclusion>,
}

/// Parse `a.b.c.d/nn` or `a::b/nn` (a bare address is a full-length prefix).
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a.trim(), Some(p.trim())),
        None => (s.trim(), None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some((ip, prefix))
}

fn ip_in(ip: IpAddr, (net, prefix): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// A boolean setting: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, any case.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Glob match with `*` (any run, including none) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let fold = |s: &str| if case_insensitive { s.to_lowercase() } else { s.to_string() };
    let p: Vec<char> = fold(pattern).chars().collect();
    let t: Vec<char> = fold(text).chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

impl Exclusion {
    /// Whether this exclusion suppresses an alert from `detector` on `event`.
    pub fn matches(&self, detector: &str, event: &CloudTrailEvent, user_name: &str) -> bool {
        let s = &self.spec;
        if !s.detectors.is_empty() && !s.detectors.iter().any(|d| d == detector) {
            return false;
        }
        let glob = |pat: &Option<String>, value: Option<&str>, ci: bool| match pat {
            None => true,
            Some(p) => value.is_some_and(|v| glob_match(p, v, ci)),
        };
        let id = &event.identity;
        let account = event.recipient_account_id.as_deref().or(id.account_id.as_deref());
        glob(&s.principal_arn, id.arn.as_deref(), false)
            && glob(&s.user_name, Some(user_name), true)
            && s.identity_type
                .as_ref()
                .is_none_or(|t| id.identity_type.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(t)))
            && glob(&s.invoked_by, id.invoked_by.as_deref(), false)
            && glob(&s.user_agent, event.user_agent.as_deref(), true)
            && s.account_id.as_ref().is_none_or(|a| account == Some(a.as_str()))
            && self.cidr.is_none_or(|c| {
                event
                    .source_ip_address
                    .as_deref()
                    .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
                    .is_some_and(|ip| ip_in(ip, c))
            })
    }

    /// The reason, or the label when none was given.
    pub fn describe(&self) -> String {
        match &self.spec.reason {
            Some(r) => format!("{} ({r})", self.label),
            None => self.label.clone(),
        }
    }
}

impl Config {
    /// Read and validate a config file (YAML for `.yaml`/`.yml`, otherwise TOML).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.to_path_buf(), detail: e.to_string() })?;
        let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
        let parsed = if yaml { Self::parse_yaml(&text) } else { Self::parse(&text) };
        parsed.map_err(|detail| ConfigError::Invalid { path: path.to_path_buf(), detail })
    }

    /// Parse TOML config text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " ").replace("  ", " "))?;
        c.validated()
    }

    /// Parse YAML config text.
    pub fn parse_yaml(text: &str) -> Result<Config, String> {
        let c: Config = serde_norway::from_str(text).map_err(|e| e.to_string())?;
        c.validated()
    }

    fn validated(mut self) -> Result<Config, String> {
        for (i, id) in self.trusted_account_ids.iter().enumerate() {
            if !iam_tracker_plugin_sdk::arn::is_account_id(id) {
                return Err(format!("trusted_account_ids[{i}]: {id:?} is not a 12-digit account id"));
            }
        }
        if let Some(names) = &self.admin_policy_names {
            if let Some((i, n)) = names.iter().enumerate().find(|(_, n)| n.trim().is_empty() || n.contains('/')) {
                return Err(format!("admin_policy_names[{i}]: {n:?} is not a policy name (expected the name after the last `/`, e.g. \"AdministratorAccess\")"));
            }
        }
        let mut exclusions = Vec::new();
        for (i, spec) in self.exclusion_specs.iter().enumerate() {
            let label = format!("exclusions[{i}]");
            let criteria = [
                &spec.principal_arn,
                &spec.user_name,
                &spec.identity_type,
                &spec.invoked_by,
                &spec.user_agent,
                &spec.account_id,
                &spec.source_ip,
            ];
            if criteria.iter().all(|c| c.is_none()) {
                return Err(format!(
                    "{label}: has no criteria (expected at least one of principal_arn, user_name, identity_type, invoked_by, user_agent, account_id, source_ip)"
                ));
            }
            let cidr = match &spec.source_ip {
                None => None,
                Some(s) => Some(parse_cidr(s).ok_or_else(|| {
                    format!("{label}.source_ip: {s:?} is not an IP address or CIDR (expected e.g. \"203.0.113.0/24\")")
                })?),
            };
            if let Some(a) = &spec.account_id {
                if !iam_tracker_plugin_sdk::arn::is_account_id(a) {
                    return Err(format!("{label}.account_id: {a:?} is not a 12-digit account id"));
                }
            }
            exclusions.push(Exclusion { spec: spec.clone(), label, cidr });
        }
        self.exclusions = exclusions;
        Ok(self)
    }

    /// Check every detector id the config names against the loaded ones.
    pub fn check_ids(&self, known: &[&str]) -> Result<(), String> {
        let check = |key: &str, id: &str| {
            if known.contains(&id) {
                Ok(())
            } else {
                Err(format!("{key}: unknown detector id {id:?} (expected one of: {})", known.join(", ")))
            }
        };
        for (i, id) in self.enabled.iter().flatten().enumerate() {
            check(&format!("enabled[{i}]"), id)?;
        }
        for (i, id) in self.disabled.iter().enumerate() {
            check(&format!("disabled[{i}]"), id)?;
        }
        for id in self.detectors.keys() {
            check(&format!("detectors.{id}"), id)?;
        }
        for e in &self.exclusions {
            for (j, id) in e.spec.detectors.iter().enumerate() {
                check(&format!("{}.detectors[{j}]", e.label), id)?;
            }
        }
        Ok(())
    }

    /// The JSON passed to a plugin's `configure`: its own table plus the global keys.
    pub fn plugin_config(&self, id: &str) -> String {
        let mut map = self.detectors.get(id).cloned().unwrap_or_default();
        if let Some(names) = &self.admin_policy_names {
            map.insert("admin_policy_names".into(), serde_json::json!(names));
        }
        map.insert("trusted_account_ids".into(), serde_json::json!(self.trusted_account_ids));
        serde_json::Value::Object(map).to_string()
    }

    /// Whether a detector is switched off by `enabled`/`disabled`.
    pub fn is_disabled(&self, id: &str) -> bool {
        self.disabled.iter().any(|d| d == id) || self.enabled.as_ref().is_some_and(|e| !e.iter().any(|d| d == id))
    }

    /// The first exclusion that suppresses this alert.
    pub fn excluded_by(&self, detector: &str, event: &CloudTrailEvent, user_name: &str) -> Option<usize> {
        self.exclusions.iter().position(|e| e.matches(detector, event, user_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_config_merges_globals() {
        let c = Config::parse("trusted_account_ids = [\"111122223333\"]\n[detectors.role-trust-policy]\nextra = 1\n")
            .expect("valid");
        let v: serde_json::Value = serde_json::from_str(&c.plugin_config("role-trust-policy")).expect("json");
        assert_eq!(v["extra"], 1);
        assert_eq!(v["trusted_account_ids"][0], "111122223333");
        assert!(v.get("admin_policy_names").is_none());
    }

    #[test]
    fn errors_name_key_value_and_expectation() {
        let e = Config::parse("trusted_acount_ids = []").expect_err("typo");
        assert!(e.contains("trusted_acount_ids") && e.contains("expected one of"), "{e}");
        let e = Config::parse("trusted_account_ids = [\"12\"]").expect_err("bad id");
        assert_eq!(e, "trusted_account_ids[0]: \"12\" is not a 12-digit account id");
        let e = Config::parse("[[exclusions]]\nsource_ip = \"10.0.0.0/33\"\n").expect_err("cidr");
        assert_eq!(
            e,
            "exclusions[0].source_ip: \"10.0.0.0/33\" is not an IP address or CIDR (expected e.g. \"203.0.113.0/24\")"
        );
        let e = Config::parse("[[exclusions]]\nreason = \"x\"\n").expect_err("empty");
        assert!(e.starts_with("exclusions[0]: has no criteria"), "{e}");
        let e = Config::parse("[[exclusions]]\nuser_nam = \"x\"\n").expect_err("unknown key");
        assert!(e.contains("user_nam"), "{e}");
        let c = Config::parse("disabled = [\"nope\"]").expect("syntax ok");
        assert_eq!(
            c.check_ids(&["root-activity"]).expect_err("unknown id"),
            "disabled[0]: unknown detector id \"nope\" (expected one of: root-activity)"
        );
        let e = Config::parse_yaml("trusted_account_ids: [\"1\"]\n").expect_err("yaml");
        assert!(e.contains("trusted_account_ids[0]"), "{e}");
    }

    #[test]
    fn globs() {
        assert!(glob_match("arn:aws:iam::*:role/Deploy*", "arn:aws:iam::111122223333:role/DeployBot", false));
        assert!(!glob_match("arn:aws:iam::*:role/Deploy*", "arn:aws:iam::111122223333:role/deploybot", false));
        assert!(glob_match("terraform*", "Terraform/1.7.0", true));
        assert!(glob_match("a?c", "abc", false) && !glob_match("a?c", "abbc", false));
        assert!(glob_match("*", "", false));
    }

    #[test]
    fn exclusion_criteria_all_must_match() {
        let c = Config::parse_yaml(
            "exclusions:\n  - detectors: [access-key-creation]\n    identity_type: assumedrole\n    source_ip: 10.0.0.0/8\n    reason: pipeline\n",
        )
        .expect("valid yaml");
        let ev = |ip: &str, ty: &str| {
            CloudTrailEvent::parse(&format!(
                r#"{{"eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","sourceIPAddress":"{ip}","userIdentity":{{"type":"{ty}"}}}}"#
            ))
            .expect("record")
        };
        assert_eq!(c.excluded_by("access-key-creation", &ev("10.1.2.3", "AssumedRole"), "x"), Some(0));
        assert_eq!(c.excluded_by("access-key-creation", &ev("11.1.2.3", "AssumedRole"), "x"), None);
        assert_eq!(c.excluded_by("access-key-creation", &ev("10.1.2.3", "IAMUser"), "x"), None);
        assert_eq!(c.excluded_by("user-creation", &ev("10.1.2.3", "AssumedRole"), "x"), None);
        assert_eq!(c.excluded_by("access-key-creation", &ev("AWS Internal", "AssumedRole"), "x"), None);
        assert_eq!(c.exclusions[0].describe(), "exclusions[0] (pipeline)");
    }
}
