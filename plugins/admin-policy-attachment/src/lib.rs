//! `admin-policy-attachment`: an admin managed policy was attached to an IAM user, role or group.
//!
//! - **Detects:** a successful `iam.amazonaws.com` / `AttachUserPolicy`, `AttachRolePolicy`
//!   or `AttachGroupPolicy` call whose `requestParameters.policyArn` names an admin policy
//!   (`Admin Policy Attached`). The policy name is the text after the last `/` of the ARN and
//!   must equal a configured name exactly (`admin_policy_names`, default
//!   `AdministratorAccess`, `IAMFullAccess`, `PowerUserAccess`,
//!   `AWSSSOMasterAccountAdministrator`, `AWSIdentityCenterFullAccess`,
//!   `AWSSSOMemberAccountAdministrator`), in any partition (`arn:aws:`, `arn:aws-us-gov:`,
//!   `arn:aws-cn:`). `AdministratorAccess-Amplify` or `AmazonEC2FullAccess` do not match.
//!   Detach calls and failed calls stay silent.
//! - **Reads:** `requestParameters.policyArn`, `userName` / `roleName` / `groupName`,
//!   `userIdentity.invokedBy` (shown as "via <service>"), the actor, the changed account.
//! - **Severity:** critical.
//! - **Known false positives:** IAM Identity Center provisioning attaches
//!   `AdministratorAccess` to `AWSReservedSSO_*` roles (`invokedBy sso.amazonaws.com`) when
//!   an admin permission set is assigned; the `sso-account-assignment` and
//!   `sso-admin-policy-attachment` alerts already cover that change, so exclude
//!   `invokedBy sso.amazonaws.com` here if it doubles up. Break-glass roles built by IaC also
//!   fire. Matching is by name, so a customer-managed policy that reuses a listed name
//!   (`arn:aws:iam::<account>:policy/AdministratorAccess`) fires too, which is deliberate.

use iam_tracker_plugin_sdk::arn;
use iam_tracker_plugin_sdk::config::{self, Common, NoSettings};
use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "admin-policy-attachment";

const SOURCE: &str = "iam.amazonaws.com";

/// Subscribed event names and, for each, the principal kind and its request field.
const TARGETS: &[(&str, &str, &str)] = &[
    ("AttachUserPolicy", "user", "userName"),
    ("AttachRolePolicy", "role", "roleName"),
    ("AttachGroupPolicy", "group", "groupName"),
];

#[derive(Default)]
pub struct AdminPolicyAttachment {
    common: Common,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl Detector for AdminPolicyAttachment {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "An admin managed policy was attached to an IAM user, role or group".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Critical,
            subscriptions: TARGETS.iter().map(|(name, _, _)| Subscription::new(SOURCE, name)).collect(),
        }
    }

    fn configure(&mut self, config: &str) -> Result<(), PluginError> {
        let (common, NoSettings {}) = config::parse::<NoSettings>(config)?;
        self.common = common;
        Ok(())
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        let Some(&(_, kind, field)) = TARGETS.iter().find(|(name, _, _)| event.is(SOURCE, name)) else {
            return Ok(vec![]);
        };
        if event.failed() {
            return Ok(vec![]);
        }
        let Some(policy_arn) = non_empty(event.str_field("requestParameters.policyArn")) else {
            return Ok(vec![]);
        };
        if !arn::is_admin_policy(&policy_arn, &self.common.admin_policy_names) {
            return Ok(vec![]);
        }
        let policy = arn::policy_name(&policy_arn).to_string();
        let target =
            non_empty(event.str_field(&format!("requestParameters.{field}"))).unwrap_or_else(|| "unknown".into());
        let actor = event.actor_or_unknown();
        let account = event.changed_account().unwrap_or_else(|| "unknown".into());
        let mut message = format!(
            "Admin policy {policy} ({policy_arn}) was attached to IAM {kind} {target} in account {account} by {actor}"
        );
        if let Some(service) = non_empty(event.invoked_by()) {
            message.push_str(&format!(" via {service}"));
        }
        Ok(vec![Alert::new(Severity::Critical, "Admin Policy Attached", message)
            .with_context("account", account)
            .with_context("policy_arn", policy_arn)
            .with_context(format!("target_{kind}"), target)])
    }
}

iam_tracker_plugin_sdk::export_detector!(AdminPolicyAttachment);

#[cfg(test)]
mod tests {
    use super::*;
    use iam_tracker_plugin_sdk::NativeEvent;

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::AdminPolicyAttachment>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    #[test]
    fn configured_names_replace_the_default_list() {
        let record = r#"{"eventSource":"iam.amazonaws.com","eventName":"AttachRolePolicy","recipientAccountId":"111122223333",
            "requestParameters":{"roleName":"ci","policyArn":"arn:aws:iam::111122223333:policy/CompanyAdmin"}}"#;
        let ev = NativeEvent::from_json(record).expect("valid json");
        let mut det = AdminPolicyAttachment::default();
        assert!(det.detect(&ev.event()).expect("detect").is_empty());
        det.configure(r#"{"admin_policy_names":["CompanyAdmin"]}"#).expect("config");
        let alerts = det.detect(&ev.event()).expect("detect");
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].message.contains("role ci"), "{}", alerts[0].message);
        assert!(det.configure(r#"{"unknown_key":true}"#).is_err());
    }
}
