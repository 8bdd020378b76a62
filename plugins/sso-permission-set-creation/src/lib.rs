//! `sso-permission-set-creation`: a new IAM Identity Center permission set.
//!
//! - **Detects:** a successful `sso.amazonaws.com` / `CreatePermissionSet`
//!   (`SSO Permission Set Created`). The message names the permission set, the Identity Center
//!   instance, the session duration, the permission set ARN when the response has it, the actor
//!   and the account. Failed calls (`errorCode`) created nothing and stay silent. A successful
//!   call with no request details still alerts, with `unknown` for the missing facts; a missing
//!   session duration is shown as `not set (default PT1H)`, the AWS default.
//! - **Reads:** `requestParameters.name`, `requestParameters.instanceArn`,
//!   `requestParameters.sessionDuration`, falling back to `responseElements.permissionSet.name`
//!   / `.sessionDuration`; `responseElements.permissionSet.permissionSetArn`; `errorCode`.
//! - **Severity:** critical.
//! - **Known false positives:** routine Identity Center administration and infrastructure as
//!   code (Terraform, CloudFormation, Control Tower / AFT pipelines) creating permission sets;
//!   exclude those principals in the config. A new permission set grants nothing until
//!   policies are attached and it is assigned and provisioned, and its name is free text
//!   (`AdministratorAccess-test` says nothing about its policies); see
//!   `sso-admin-policy-attachment` and `sso-account-assignment` for the follow-up steps.
//!   `DeletePermissionSet`, `UpdatePermissionSet` and `ProvisionPermissionSet` are not
//!   subscribed to.

use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "sso-permission-set-creation";

const SSO: &str = "sso.amazonaws.com";
const CREATE: &str = "CreatePermissionSet";

#[derive(Default)]
pub struct SsoPermissionSetCreation;

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl Detector for SsoPermissionSetCreation {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "IAM Identity Center permission set created".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Critical,
            subscriptions: vec![Subscription::new(SSO, CREATE)],
        }
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        if !event.is(SSO, CREATE) || event.failed() {
            return Ok(vec![]);
        }
        let name = non_empty(event.str_field("requestParameters.name"))
            .or_else(|| non_empty(event.str_field("responseElements.permissionSet.name")))
            .unwrap_or_else(|| "unknown".into());
        let instance = non_empty(event.str_field("requestParameters.instanceArn")).unwrap_or_else(|| "unknown".into());
        let duration = non_empty(event.str_field("requestParameters.sessionDuration"))
            .or_else(|| non_empty(event.str_field("responseElements.permissionSet.sessionDuration")))
            .unwrap_or_else(|| "not set (default PT1H)".into());
        let arn = non_empty(event.str_field("responseElements.permissionSet.permissionSetArn"));
        let actor = event.actor_or_unknown();
        let account = event.changed_account().unwrap_or_else(|| "unknown".into());

        let arn_text = arn.as_deref().map(|a| format!(" as {a}")).unwrap_or_default();
        let message = format!(
            "{actor} created permission set {name} in instance {instance}{arn_text} (account {account}); session duration {duration}"
        );
        let mut alert = Alert::new(Severity::Critical, "SSO Permission Set Created", message)
            .with_context("permission_set_name", name)
            .with_context("instance_arn", instance)
            .with_context("session_duration", duration)
            .with_context("account", account);
        if let Some(arn) = arn {
            alert = alert.with_context("permission_set_arn", arn);
        }
        Ok(vec![alert])
    }
}

iam_tracker_plugin_sdk::export_detector!(SsoPermissionSetCreation);

#[cfg(test)]
mod tests {
    use super::*;
    use iam_tracker_plugin_sdk::{serde_json, NativeEvent};

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::SsoPermissionSetCreation>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    #[test]
    fn other_event_source_is_ignored_inside_detect() {
        let ev = NativeEvent::from_value(serde_json::json!({
            "eventSource": "sso-directory.amazonaws.com",
            "eventName": "CreatePermissionSet",
            "requestParameters": {"name": "Admin", "instanceArn": "arn:aws:sso:::instance/ssoins-1111222233334444"},
            "recipientAccountId": "111122223333"
        }));
        assert!(SsoPermissionSetCreation.detect(&ev.event()).expect("detect").is_empty());
    }
}
