//! Plugin configuration: the JSON the host passes to `configure`.
//!
//! The host always adds the deployment-wide keys [`GLOBAL_KEYS`] (admin policy names,
//! trusted account ids) to every plugin's own settings, so a plugin reads them through
//! [`Common`] and keeps `deny_unknown_fields` on its own settings struct.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::arn::DEFAULT_ADMIN_POLICIES;
use crate::PluginError;

/// Keys the host adds to every plugin's config.
pub const GLOBAL_KEYS: &[&str] = &["admin_policy_names", "trusted_account_ids"];

/// The deployment-wide settings every plugin receives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Common {
    /// Policy names that count as admin (exact match on the name after the last `/`).
    #[serde(default = "default_admin_policies")]
    pub admin_policy_names: Vec<String>,
    /// Account ids that are never reported as external.
    #[serde(default)]
    pub trusted_account_ids: Vec<String>,
}

fn default_admin_policies() -> Vec<String> {
    DEFAULT_ADMIN_POLICIES.iter().map(|s| s.to_string()).collect()
}

impl Default for Common {
    fn default() -> Self {
        Common { admin_policy_names: default_admin_policies(), trusted_account_ids: Vec::new() }
    }
}

/// Split a config into the [`Common`] settings and the plugin's own settings `T`
/// (`T::default()` when it has none). Errors name the key and what was expected.
pub fn parse<T: DeserializeOwned + Default>(config: &str) -> Result<(Common, T), PluginError> {
    let trimmed = config.trim();
    let mut map: Map<String, Value> = if trimmed.is_empty() || trimmed == "null" {
        Map::new()
    } else {
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(m)) => m,
            Ok(other) => return Err(PluginError::InvalidConfig(format!("expected a JSON object, got {other}"))),
            Err(e) => return Err(PluginError::InvalidConfig(format!("config is not JSON: {e}"))),
        }
    };
    let mut common_map = Map::new();
    for key in GLOBAL_KEYS {
        if let Some(v) = map.remove(*key) {
            common_map.insert((*key).to_string(), v);
        }
    }
    let common: Common = serde_json::from_value(Value::Object(common_map))
        .map_err(|e| PluginError::InvalidConfig(format!("global settings: {e}")))?;
    let own: T = if map.is_empty() {
        T::default()
    } else {
        serde_json::from_value(Value::Object(map)).map_err(|e| PluginError::InvalidConfig(e.to_string()))?
    };
    Ok((common, own))
}

/// Settings type for plugins that take no settings of their own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globals_are_split_off_and_unknown_keys_rejected() {
        let (c, _) = parse::<NoSettings>(r#"{"trusted_account_ids":["111122223333"]}"#).expect("ok");
        assert_eq!(c.trusted_account_ids, vec!["111122223333"]);
        assert_eq!(c.admin_policy_names.len(), DEFAULT_ADMIN_POLICIES.len());
        let err = parse::<NoSettings>(r#"{"typo": 1}"#).expect_err("unknown key");
        assert!(matches!(&err, PluginError::InvalidConfig(m) if m.contains("typo")), "{err}");
        assert!(parse::<NoSettings>("[1]").is_err());
        assert!(parse::<NoSettings>("").is_ok());
    }
}
