//! `access-key-update`: an access key's status was changed (activated or deactivated).
//!
//! - **Detects:** a successful `iam.amazonaws.com` / `UpdateAccessKey` call
//!   (`Access Key Updated`). The message shows the last 4 characters of
//!   `requestParameters.accessKeyId`, the user that owns the key
//!   (`requestParameters.userName`; when absent the caller updated its own key, and for the
//!   root user that is a root access key) and the new `status` (`Active` or `Inactive`).
//!   Failed calls stay silent (they carry `requestParameters: null` and name the key only
//!   inside `errorMessage`).
//! - **Reads:** `requestParameters.accessKeyId`, `userName`, `status`, identity type, the
//!   actor, the changed account. Missing values are shown as `unknown`.
//! - **Severity:** high, whatever the direction: reactivating an old key (`Active`) is the
//!   suspicious direction, deactivating one (`Inactive`) is usually remediation, and the
//!   message says which.
//! - **Known false positives:** key rotation (deactivate the old key, later delete it) and
//!   automated containment (GuardDuty or incident-response tooling setting keys `Inactive`);
//!   exclude those principals in the config.

use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "access-key-update";

const SOURCE: &str = "iam.amazonaws.com";
const NAME: &str = "UpdateAccessKey";

#[derive(Default)]
pub struct AccessKeyUpdate;

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The last 4 characters of a key id (the whole id when shorter).
fn key_suffix(key_id: &str) -> String {
    let chars: Vec<char> = key_id.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

impl Detector for AccessKeyUpdate {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "An access key was activated or deactivated".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::High,
            subscriptions: vec![Subscription::new(SOURCE, NAME)],
        }
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        if !event.is(SOURCE, NAME) || event.failed() {
            return Ok(vec![]);
        }
        let actor = event.actor_or_unknown();
        let account = event.changed_account().unwrap_or_else(|| "unknown".into());
        let suffix = non_empty(event.str_field("requestParameters.accessKeyId"))
            .map(|k| key_suffix(&k))
            .unwrap_or_else(|| "unknown".into());
        let is_root = event.identity_type().as_deref() == Some("Root");
        let named = non_empty(event.str_field("requestParameters.userName"));
        let status = non_empty(event.str_field("requestParameters.status")).unwrap_or_else(|| "unknown".into());
        let direction = match status.to_ascii_lowercase().as_str() {
            "active" => " (key enabled)",
            "inactive" => " (key disabled)",
            _ => "",
        };
        let (user, whose) = match named {
            Some(u) => (u.clone(), format!("user {u}")),
            None if is_root => ("root".to_string(), "the root user (root access key)".to_string()),
            None => (actor.clone(), format!("user {actor} (own key)")),
        };
        let message = format!(
            "Access key ending in {suffix} of {whose} was set to {status}{direction} in account {account} by {actor}"
        );
        Ok(vec![Alert::new(Severity::High, "Access Key Updated", message)
            .with_context("account", account)
            .with_context("target_user", user)
            .with_context("key_suffix", suffix)
            .with_context("status", status)])
    }
}

iam_tracker_plugin_sdk::export_detector!(AccessKeyUpdate);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::AccessKeyUpdate>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    #[test]
    fn key_suffix_is_char_safe() {
        assert_eq!(key_suffix("AKIAIOSFODNN7EXAMPLE"), "MPLE");
        assert_eq!(key_suffix("ab"), "ab");
        assert_eq!(key_suffix("AKIAé€𝄞"), "Aé€𝄞");
    }
}
