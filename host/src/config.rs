//! The `--config` file (TOML): deployment-wide settings and per-detector settings.
//!
//! ```toml
//! admin_policy_names = ["AdministratorAccess", "MyOrgAdmin"]   # replaces the default list
//! trusted_account_ids = ["111122223333"]
//! disabled = ["sso-app-deletion"]
//!
//! [detectors.role-trust-policy]       # passed to that plugin's configure(), as JSON
//! ```
//!
//! Every plugin receives its own table plus `admin_policy_names` and
//! `trusted_account_ids` (see the SDK's `config` module).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// An unusable config file; the message names the file, key and problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("{path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
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
    /// Detector ids not to load.
    #[serde(default)]
    pub disabled: Vec<String>,
    /// Per-detector settings, passed to `configure`.
    #[serde(default)]
    pub detectors: BTreeMap<String, toml::Table>,
}

impl Config {
    /// Read and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.to_path_buf(), detail: e.to_string() })?;
        Self::parse(&text).map_err(|detail| ConfigError::Invalid { path: path.to_path_buf(), detail })
    }

    /// Parse config text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
        for id in &c.trusted_account_ids {
            if !iam_tracker_plugin_sdk::arn::is_account_id(id) {
                return Err(format!("trusted_account_ids: {id:?} is not a 12-digit account id"));
            }
        }
        Ok(c)
    }

    /// The JSON passed to a plugin's `configure`: its own table plus the global keys.
    pub fn plugin_config(&self, id: &str) -> String {
        let mut map = serde_json::Map::new();
        if let Some(table) = self.detectors.get(id) {
            if let Ok(serde_json::Value::Object(own)) = serde_json::to_value(table) {
                map = own;
            }
        }
        if let Some(names) = &self.admin_policy_names {
            map.insert("admin_policy_names".into(), serde_json::json!(names));
        }
        map.insert("trusted_account_ids".into(), serde_json::json!(self.trusted_account_ids));
        serde_json::Value::Object(map).to_string()
    }

    /// Whether a plugin id is disabled by the config.
    pub fn is_disabled(&self, id: &str) -> bool {
        self.disabled.iter().any(|d| d == id)
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
    fn errors_name_the_key() {
        let e = Config::parse("trusted_acount_ids = []").expect_err("typo");
        assert!(e.contains("trusted_acount_ids"), "{e}");
        let e = Config::parse("trusted_account_ids = [\"12\"]").expect_err("bad id");
        assert!(e.contains("\"12\"") && e.contains("12-digit"), "{e}");
    }
}
