//! `sso-admin-policy-attachment`: an admin AWS-managed policy attached to an IAM Identity
//! Center permission set.
//!
//! - **Detects:** `sso.amazonaws.com` / `AttachManagedPolicyToPermissionSet` that succeeded
//!   (no `errorCode`) and whose `requestParameters.managedPolicyArn` names an admin policy:
//!   the policy name (the text after the last `/`) equals one of the deployment's
//!   `admin_policy_names` exactly (default `AdministratorAccess`, `IAMFullAccess`,
//!   `PowerUserAccess`, `AWSSSOMasterAccountAdministrator`, `AWSIdentityCenterFullAccess`,
//!   `AWSSSOMemberAccountAdministrator`). ARNs in any partition match
//!   (`arn:aws-us-gov:`, `arn:aws-cn:`); `AdministratorAccess-Amplify` and
//!   `AmazonEC2FullAccess` do not. A record without a string `managedPolicyArn` is not an
//!   alert (nothing says an admin policy was attached).
//! - **Reads:** `requestParameters.managedPolicyArn`, `requestParameters.permissionSetArn`
//!   (its last `/` segment is the permission set id), `requestParameters.instanceArn` (its
//!   last `/` segment is the instance id), `errorCode`, the account (`recipientAccountId`,
//!   else `userIdentity.accountId`) and the actor.
//! - **Severity:** critical. Title `Admin Policy Attached to SSO Permission Set`.
//! - **Config:** only the deployment-wide keys; `admin_policy_names` replaces the default
//!   list.
//! - **Known false positives:** planned creation of an administrators' permission set (the
//!   attach usually follows `CreatePermissionSet` by a platform team or IaC pipeline;
//!   exclude that principal or user agent in the config). The attach alone grants nothing
//!   until the permission set is provisioned and assigned; `CreateAccountAssignment` is
//!   reported by `sso-account-assignment`. Not covered: `DetachManagedPolicyFromPermissionSet`
//!   (a removal), `AttachCustomerManagedPolicyReferenceToPermissionSet` and
//!   `PutInlinePolicyToPermissionSet` (other calls with their own risk), and the IAM
//!   `AttachRolePolicy` calls Identity Center makes on `AWSReservedSSO_*` roles when it
//!   provisions (those are `admin-policy-attachment`'s, with `invokedBy sso.amazonaws.com`).

use iam_tracker_plugin_sdk::arn;
use iam_tracker_plugin_sdk::config::{self, Common, NoSettings};
use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "sso-admin-policy-attachment";

const SOURCE: &str = "sso.amazonaws.com";
const EVENT: &str = "AttachManagedPolicyToPermissionSet";
const TITLE: &str = "Admin Policy Attached to SSO Permission Set";
/// CloudTrail's redaction marker; shown as `unknown`.
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

#[derive(Default)]
pub struct SsoAdminPolicyAttachment {
    /// Deployment-wide settings; `Common::default()` holds the default admin policy names.
    common: Common,
}

/// A request parameter as display text: `None` when absent, not a scalar, blank or hidden.
fn param(event: &Event, name: &str) -> Option<String> {
    event
        .str_field(&format!("requestParameters.{name}"))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty() && v != HIDDEN)
}

impl Detector for SsoAdminPolicyAttachment {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Admin AWS-managed policy attached to an IAM Identity Center permission set".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Critical,
            subscriptions: vec![Subscription::new(SOURCE, EVENT)],
        }
    }

    fn configure(&mut self, config: &str) -> Result<(), PluginError> {
        let (common, _) = config::parse::<NoSettings>(config)?;
        self.common = common;
        Ok(())
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        if !event.is(SOURCE, EVENT) || event.failed() {
            return Ok(vec![]);
        }
        let Some(policy_arn) = param(event, "managedPolicyArn") else {
            return Ok(vec![]);
        };
        if !arn::is_admin_policy(&policy_arn, &self.common.admin_policy_names) {
            return Ok(vec![]);
        }
        let policy = arn::policy_name(&policy_arn).to_string();
        let permission_set = param(event, "permissionSetArn")
            .map(|a| arn::last_segment(&a).to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into());
        let instance = param(event, "instanceArn")
            .map(|a| arn::last_segment(&a).to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into());
        let account = event.changed_account().unwrap_or_else(|| "unknown".into());
        let actor = event.actor_or_unknown();
        let message = format!(
            "Admin policy {policy} attached to SSO permission set {permission_set} by {actor} \
             (instance {instance}, account {account}, policy ARN {policy_arn})"
        );
        Ok(vec![Alert::new(Severity::Critical, TITLE, message)
            .with_context("account", account)
            .with_context("policy_arn", policy_arn)
            .with_context("permission_set", permission_set)
            .with_context("instance", instance)])
    }
}

iam_tracker_plugin_sdk::export_detector!(SsoAdminPolicyAttachment);

#[cfg(test)]
mod tests {
    use super::*;
    use iam_tracker_plugin_sdk::NativeEvent;

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::SsoAdminPolicyAttachment>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    fn attach(source: &str, policy_arn: &str) -> NativeEvent {
        NativeEvent::from_value(iam_tracker_plugin_sdk::serde_json::json!({
            "eventSource": source,
            "eventName": EVENT,
            "eventID": "e1",
            "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
            "requestParameters": {
                "instanceArn": "arn:aws:sso:::instance/ssoins-1111222233334444",
                "permissionSetArn": "arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-abcdef0123456789",
                "managedPolicyArn": policy_arn
            }
        }))
    }

    #[test]
    fn configured_admin_list_replaces_the_default() {
        let mut det = SsoAdminPolicyAttachment::default();
        det.configure(r#"{"admin_policy_names": ["SecurityAudit", "job-function/Billing"]}"#).expect("valid config");

        let custom = attach(SOURCE, "arn:aws:iam::aws:policy/SecurityAudit");
        let alerts = det.detect(&custom.event()).expect("detect");
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].title, TITLE);
        assert_eq!(alerts[0].severity, Severity::Critical);
        assert!(alerts[0].message.contains("SecurityAudit"), "{}", alerts[0].message);
        assert!(alerts[0].message.contains("ps-abcdef0123456789"), "{}", alerts[0].message);
        assert!(alerts[0].message.contains("alice"), "{}", alerts[0].message);

        // The configured list replaces the default one, and names are compared exactly
        // with the text after the last `/` (a listed name containing `/` never matches).
        for arn in [
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/SecurityAuditExtra",
            "arn:aws:iam::aws:policy/job-function/Billing",
        ] {
            let ev = attach(SOURCE, arn);
            assert!(det.detect(&ev.event()).expect("detect").is_empty(), "{arn} must not fire");
        }
    }

    #[test]
    fn default_config_uses_the_spec_list() {
        let mut det = SsoAdminPolicyAttachment::default();
        det.configure("{}").expect("empty config");
        let admin = attach(SOURCE, "arn:aws:iam::aws:policy/AWSIdentityCenterFullAccess");
        assert_eq!(det.detect(&admin.event()).expect("detect").len(), 1);
        // Even without configure, the default list applies.
        let fresh = SsoAdminPolicyAttachment::default();
        assert_eq!(fresh.detect(&admin.event()).expect("detect").len(), 1);
    }

    #[test]
    fn unknown_config_keys_are_rejected() {
        let mut det = SsoAdminPolicyAttachment::default();
        assert!(matches!(det.configure(r#"{"admin_policies": ["X"]}"#), Err(PluginError::InvalidConfig(_))));
        assert!(matches!(det.configure(r#"{"admin_policy_names": "X"}"#), Err(PluginError::InvalidConfig(_))));
    }

    #[test]
    fn detect_checks_the_event_source_itself() {
        // The host filters by subscription, but detect must not rely on it.
        let det = SsoAdminPolicyAttachment::default();
        let other = attach("sso-directory.amazonaws.com", "arn:aws:iam::aws:policy/AdministratorAccess");
        assert!(det.detect(&other.event()).expect("detect").is_empty());
    }
}
