//! `sso-account-assignment`: an IAM Identity Center user or group given a permission set on
//! an AWS account.
//!
//! - **Detects:** `sso.amazonaws.com` / `CreateAccountAssignment` that succeeded (no
//!   `errorCode`). Every successful call is reported: the assignment is what turns a
//!   permission set into working access (an `AWSReservedSSO_*` role in the target account).
//!   A success whose details are missing (`requestParameters` null, absent or `{}`) is
//!   still reported, with `unknown` in place of the missing facts.
//! - **Reads:** `requestParameters.principalType`, `principalId`, `permissionSetArn` (its
//!   last `/` segment is the permission set id), `targetType`, `targetId` and `instanceArn`;
//!   each falls back to the same field of `responseElements.accountAssignmentCreationStatus`
//!   when the request copy is missing. `HIDDEN_DUE_TO_SECURITY_REASONS`, blanks and
//!   non-scalar values are shown as `unknown`. Also `errorCode`, the account
//!   (`recipientAccountId`, else `userIdentity.accountId`) and the actor.
//! - **Severity:** critical. Title `SSO Account Assignment Created`.
//! - **Known false positives:** onboarding and joiner/mover processes, and IaC or SCIM-driven
//!   automation that assigns permission sets in bulk (exclude that principal or user agent
//!   in the config). The call is asynchronous: the record shows the request was accepted
//!   (`IN_PROGRESS`), not that provisioning finished. `DeleteAccountAssignment` (removal of
//!   access) is not subscribed to and stays silent.

use iam_tracker_plugin_sdk::arn;
use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "sso-account-assignment";

const SOURCE: &str = "sso.amazonaws.com";
const EVENT: &str = "CreateAccountAssignment";
const TITLE: &str = "SSO Account Assignment Created";
/// CloudTrail's redaction marker; shown as `unknown`.
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";
/// Where the response repeats the request's facts.
const STATUS: &str = "responseElements.accountAssignmentCreationStatus";

#[derive(Default)]
pub struct SsoAccountAssignment;

/// A scalar at `path` as display text: `None` when absent, not a scalar, blank or hidden.
fn text(event: &Event, path: &str) -> Option<String> {
    event.str_field(path).map(|v| v.trim().to_string()).filter(|v| !v.is_empty() && v != HIDDEN)
}

/// A field of the request, else the same field of the response's creation status.
fn fact(event: &Event, name: &str) -> Option<String> {
    text(event, &format!("requestParameters.{name}")).or_else(|| text(event, &format!("{STATUS}.{name}")))
}

/// The last `/` segment of an ARN-valued fact, or `unknown`.
fn id_of(arn_value: Option<String>) -> String {
    arn_value.map(|a| arn::last_segment(&a).to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| "unknown".into())
}

impl Detector for SsoAccountAssignment {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "IAM Identity Center permission set assigned to a user or group on an AWS account".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Critical,
            subscriptions: vec![Subscription::new(SOURCE, EVENT)],
        }
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        if !event.is(SOURCE, EVENT) || event.failed() {
            return Ok(vec![]);
        }
        let unknown = || "unknown".to_string();
        let principal_type = fact(event, "principalType").unwrap_or_else(unknown);
        let principal_id = fact(event, "principalId").unwrap_or_else(unknown);
        let permission_set = id_of(fact(event, "permissionSetArn"));
        let target_type = fact(event, "targetType").unwrap_or_else(unknown);
        let target_id = fact(event, "targetId").unwrap_or_else(unknown);
        let instance = id_of(fact(event, "instanceArn"));
        let account = event.changed_account().unwrap_or_else(unknown);
        let actor = event.actor_or_unknown();
        let message = format!(
            "SSO account assignment created by {actor}: {principal_type} {principal_id} granted permission set \
             {permission_set} on {target_type} {target_id} (instance {instance}, account {account})"
        );
        Ok(vec![Alert::new(Severity::Critical, TITLE, message)
            .with_context("account", account)
            .with_context("principal", format!("{principal_type} {principal_id}"))
            .with_context("permission_set", permission_set)
            .with_context("target", format!("{target_type} {target_id}"))])
    }
}

iam_tracker_plugin_sdk::export_detector!(SsoAccountAssignment);

#[cfg(test)]
mod tests {
    use super::*;
    use iam_tracker_plugin_sdk::NativeEvent;

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::SsoAccountAssignment>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    #[test]
    fn detect_checks_the_event_source_itself() {
        // The host filters by subscription, but detect must not rely on it.
        let ev = NativeEvent::from_value(iam_tracker_plugin_sdk::serde_json::json!({
            "eventSource": "identitystore.amazonaws.com",
            "eventName": EVENT,
            "requestParameters": {"principalType": "USER", "principalId": "u-1", "targetType": "AWS_ACCOUNT", "targetId": "111122223333"}
        }));
        assert!(SsoAccountAssignment.detect(&ev.event()).expect("detect").is_empty());
    }
}
