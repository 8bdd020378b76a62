//! `sso-permission-set-update`: a change to an IAM Identity Center permission set's settings.
//!
//! - **Detects:** a successful `sso.amazonaws.com` / `UpdatePermissionSet`
//!   (`SSO Permission Set Updated`). The message names the permission set id (the last `/`
//!   segment of `permissionSetArn`, e.g. `ps-ae5d1fa1f80b684e`), the new description, the new
//!   session duration, the instance, the actor and the account. UpdatePermissionSet only
//!   sends the fields being changed, so an absent description or session duration is shown as
//!   `unchanged`. Failed calls (`errorCode`) changed nothing and stay silent. A successful call
//!   with no request details still alerts, with `unknown` for the permission set and instance.
//! - **Reads:** `requestParameters.permissionSetArn`, `requestParameters.description`,
//!   `requestParameters.sessionDuration`, `requestParameters.instanceArn`; `errorCode`.
//! - **Severity:** critical.
//! - **Known false positives:** routine Identity Center administration and infrastructure as
//!   code re-applying permission set settings (Terraform and CloudFormation call
//!   UpdatePermissionSet on drift); exclude those principals in the config. A longer session
//!   duration keeps stolen sessions alive longer, which is worth a look even from automation.
//!   Policy changes to a permission set are other events (`PutInlinePolicyToPermissionSet`,
//!   `AttachManagedPolicyToPermissionSet`) and are not subscribed to, nor are
//!   `DeletePermissionSet` and `ProvisionPermissionSet`.

use iam_tracker_plugin_sdk::arn::last_segment;
use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "sso-permission-set-update";

const SSO: &str = "sso.amazonaws.com";
const UPDATE: &str = "UpdatePermissionSet";

#[derive(Default)]
pub struct SsoPermissionSetUpdate;

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The permission set id: the last `/` segment of its ARN.
fn permission_set_id(arn: &str) -> Option<&str> {
    let id = last_segment(arn.trim());
    (!id.is_empty()).then_some(id)
}

impl Detector for SsoPermissionSetUpdate {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "IAM Identity Center permission set settings updated".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Critical,
            subscriptions: vec![Subscription::new(SSO, UPDATE)],
        }
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        if !event.is(SSO, UPDATE) || event.failed() {
            return Ok(vec![]);
        }
        let arn = non_empty(event.str_field("requestParameters.permissionSetArn"));
        let id = arn.as_deref().and_then(permission_set_id).unwrap_or("unknown").to_string();
        let description =
            non_empty(event.str_field("requestParameters.description")).unwrap_or_else(|| "unchanged".into());
        let duration =
            non_empty(event.str_field("requestParameters.sessionDuration")).unwrap_or_else(|| "unchanged".into());
        let instance = non_empty(event.str_field("requestParameters.instanceArn")).unwrap_or_else(|| "unknown".into());
        let actor = event.actor_or_unknown();
        let account = event.changed_account().unwrap_or_else(|| "unknown".into());

        let message = format!(
            "{actor} updated permission set {id} in instance {instance} (account {account}); description: {description}; session duration: {duration}"
        );
        let mut alert = Alert::new(Severity::Critical, "SSO Permission Set Updated", message)
            .with_context("permission_set_id", id)
            .with_context("description", description)
            .with_context("session_duration", duration)
            .with_context("instance_arn", instance)
            .with_context("account", account);
        if let Some(arn) = arn {
            alert = alert.with_context("permission_set_arn", arn);
        }
        Ok(vec![alert])
    }
}

iam_tracker_plugin_sdk::export_detector!(SsoPermissionSetUpdate);

#[cfg(test)]
mod tests {
    use super::*;
    use iam_tracker_plugin_sdk::{serde_json, NativeEvent};

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::SsoPermissionSetUpdate>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    #[test]
    fn other_event_source_is_ignored_inside_detect() {
        let ev = NativeEvent::from_value(serde_json::json!({
            "eventSource": "sso-directory.amazonaws.com",
            "eventName": "UpdatePermissionSet",
            "requestParameters": {"permissionSetArn": "arn:aws:sso:::permissionSet/ssoins-1/ps-2", "sessionDuration": "PT12H"},
            "recipientAccountId": "111122223333"
        }));
        assert!(SsoPermissionSetUpdate.detect(&ev.event()).expect("detect").is_empty());
    }

    #[test]
    fn permission_set_ids() {
        assert_eq!(
            permission_set_id("arn:aws:sso:::permissionSet/ssoins-72233af8ea2d1f14/ps-ae5d1fa1f80b684e"),
            Some("ps-ae5d1fa1f80b684e")
        );
        assert_eq!(permission_set_id("ps-0123456789abcdef"), Some("ps-0123456789abcdef"));
        assert_eq!(permission_set_id("arn:aws:sso:::permissionSet/"), None);
    }
}
