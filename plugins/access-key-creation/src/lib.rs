//! `access-key-creation`: a long-term access key was created, including root access keys.
//!
//! - **Detects:** a successful `iam.amazonaws.com` / `CreateAccessKey` call
//!   (`Access Key Created`). The target user is `requestParameters.userName`; when it is
//!   absent (`requestParameters` null, `{}` or missing) the caller created a key for itself,
//!   and when that caller is the root user (`userIdentity.type` `Root`) the message says a
//!   **root access key** was created. A key made for a user other than the caller is called
//!   out as such: only an `IAMUser` caller whose name equals the target exactly is "their
//!   own user" (`jack` creating a key for `jackson` is another user, and so is any role
//!   session, whatever its name). Failed calls (`LimitExceeded`, `AccessDenied`) stay
//!   silent.
//! - **Reads:** identity type, `requestParameters.userName`,
//!   `responseElements.accessKey.accessKeyId` (only its last 4 characters are shown) and
//!   `responseElements.accessKey.userName`, the actor, the changed account.
//! - **Severity:** critical.
//! - **Known false positives:** key rotation by the user or by rotation automation, and
//!   service accounts whose keys are issued by IaC or an onboarding workflow; exclude those
//!   principals in the config. Every key creation is reported, because a long-term key is a
//!   persistence path whoever created it.

use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "access-key-creation";

const SOURCE: &str = "iam.amazonaws.com";
const NAME: &str = "CreateAccessKey";

#[derive(Default)]
pub struct AccessKeyCreation;

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The last 4 characters of a key id (the whole id when shorter).
fn key_suffix(key_id: &str) -> String {
    let chars: Vec<char> = key_id.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

impl Detector for AccessKeyCreation {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A long-term access key was created (root access keys called out)".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Critical,
            subscriptions: vec![Subscription::new(SOURCE, NAME)],
        }
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        if !event.is(SOURCE, NAME) || event.failed() {
            return Ok(vec![]);
        }
        let actor = event.actor_or_unknown();
        let account = event.changed_account().unwrap_or_else(|| "unknown".into());
        let identity_type = event.identity_type();
        let is_root = identity_type.as_deref() == Some("Root");
        let is_iam_user = identity_type.as_deref() == Some("IAMUser");
        let target = non_empty(event.str_field("requestParameters.userName"));
        let key = non_empty(event.str_field("responseElements.accessKey.accessKeyId"))
            .map(|k| format!(" (key id ending in {})", key_suffix(&k)))
            .unwrap_or_default();
        let (message, target_ctx) = match target {
            Some(user) if is_iam_user && user == actor => (
                format!("{actor} created an access key for IAM user {user} (their own user) in account {account}{key}"),
                user,
            ),
            Some(user) => {
                (format!("{actor} created an access key for another IAM user, {user}, in account {account}{key}"), user)
            }
            None if is_root => (
                format!(
                    "Root access key created in account {account}: the root user created an access key for itself{key}"
                ),
                "root".to_string(),
            ),
            None => {
                let own =
                    non_empty(event.str_field("responseElements.accessKey.userName")).unwrap_or_else(|| actor.clone());
                (format!("{actor} created an access key for their own IAM user {own} in account {account}{key}"), own)
            }
        };
        Ok(vec![Alert::new(Severity::Critical, "Access Key Created", message)
            .with_context("account", account)
            .with_context("target_user", target_ctx)])
    }
}

iam_tracker_plugin_sdk::export_detector!(AccessKeyCreation);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::AccessKeyCreation>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    #[test]
    fn key_suffix_is_char_safe() {
        assert_eq!(key_suffix("AKIAIOSFODNN7EXAMPLE"), "MPLE");
        assert_eq!(key_suffix("xxx"), "xxx");
        assert_eq!(key_suffix(""), "");
        assert_eq!(key_suffix("AKIAé€𝄞"), "Aé€𝄞");
    }
}
