//! `sso-app-deletion`: a managed application instance deleted from IAM Identity Center.
//!
//! - **Detects:** `sso.amazonaws.com` / `DeleteManagedApplicationInstance` that succeeded
//!   (no `errorCode`). Every successful call is reported, including one whose details are
//!   missing (`requestParameters` null, absent or `{}`): the facts then read `unknown`.
//! - **Reads:** the deleted application is identified by
//!   `requestParameters.managedApplicationInstanceId`, else `requestParameters.applicationArn`,
//!   else `requestParameters.applicationId`, and by its OAuth client id
//!   `requestParameters.clientId` when recorded (the only field the original design read).
//!   Values of `HIDDEN_DUE_TO_SECURITY_REASONS`, blanks and non-scalars count as missing and
//!   show as `unknown`. `DeleteManagedApplicationInstance` is not in the public SSO Admin API
//!   reference, so other fields are ignored rather than guessed. Also
//!   `userIdentity.invokedBy` (the AWS service that called on the user's behalf, shown as
//!   "via ..."), `errorCode`, the account (`recipientAccountId`, else
//!   `userIdentity.accountId`) and the actor.
//! - **Severity:** high. Title `SSO Application Instance Deleted`.
//! - **Known false positives:** AWS services delete their managed application instance when
//!   the resource that needed Identity Center sign-in is deleted (Managed Grafana workspace,
//!   EMR Studio, SageMaker or DataZone domain, ...); the "via" service and the user agent
//!   show it, and `invokedBy` can be excluded in the config. Deletion still matters: it cuts
//!   users off an application and can hide an attacker's cleanup.
//!   `DeleteApplicationInstance` (the older SAML application call), the public
//!   `DeleteApplication` API and `CreateManagedApplicationInstance` (`sso-app-creation`)
//!   stay silent.

use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "sso-app-deletion";

const SOURCE: &str = "sso.amazonaws.com";
const EVENT: &str = "DeleteManagedApplicationInstance";
const TITLE: &str = "SSO Application Instance Deleted";
/// CloudTrail's redaction marker; shown as `unknown`.
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

const INSTANCE_FIELDS: &[&str] = &[
    "requestParameters.managedApplicationInstanceId",
    "requestParameters.applicationArn",
    "requestParameters.applicationId",
];

#[derive(Default)]
pub struct SsoAppDeletion;

/// A scalar at `path` as display text: `None` when absent, not a scalar, blank or hidden.
fn text(event: &Event, path: &str) -> Option<String> {
    event.str_field(path).map(|v| v.trim().to_string()).filter(|v| !v.is_empty() && v != HIDDEN)
}

impl Detector for SsoAppDeletion {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Managed application instance deleted from IAM Identity Center".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::High,
            subscriptions: vec![Subscription::new(SOURCE, EVENT)],
        }
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        if !event.is(SOURCE, EVENT) || event.failed() {
            return Ok(vec![]);
        }
        let unknown = || "unknown".to_string();
        let instance = INSTANCE_FIELDS.iter().find_map(|p| text(event, p)).unwrap_or_else(unknown);
        let client = text(event, "requestParameters.clientId").unwrap_or_else(unknown);
        let account = event.changed_account().unwrap_or_else(unknown);
        let actor = event.actor_or_unknown();
        let mut message = format!(
            "SSO application instance {instance} (client ID: {client}) deleted by {actor} in account {account}"
        );
        let via = text(event, "userIdentity.invokedBy").filter(|s| *s != actor);
        if let Some(service) = &via {
            message.push_str(&format!(" (via {service})"));
        }
        let mut alert = Alert::new(Severity::High, TITLE, message)
            .with_context("account", account)
            .with_context("instance", instance)
            .with_context("client_id", client);
        if let Some(service) = via {
            alert = alert.with_context("invoked_by", service);
        }
        Ok(vec![alert])
    }
}

iam_tracker_plugin_sdk::export_detector!(SsoAppDeletion);

#[cfg(test)]
mod tests {
    use super::*;
    use iam_tracker_plugin_sdk::NativeEvent;

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::SsoAppDeletion>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    #[test]
    fn detect_checks_the_event_source_itself() {
        // The host filters by subscription, but detect must not rely on it.
        let ev = NativeEvent::from_value(iam_tracker_plugin_sdk::serde_json::json!({
            "eventSource": "sso-directory.amazonaws.com",
            "eventName": EVENT,
            "requestParameters": {"managedApplicationInstanceId": "ins-1"}
        }));
        assert!(SsoAppDeletion.detect(&ev.event()).expect("detect").is_empty());
    }
}
