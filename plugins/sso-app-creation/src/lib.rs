//! `sso-app-creation`: a managed application instance created in IAM Identity Center.
//!
//! - **Detects:** `sso.amazonaws.com` / `CreateManagedApplicationInstance` that succeeded
//!   (no `errorCode`). Every successful call is reported, including one whose details are
//!   missing (`requestParameters` null, absent or `{}`): the facts then read `unknown`.
//! - **Reads:** the application is identified by
//!   - its name: `requestParameters.displayName`, else `name`, else `applicationName`; a
//!     value of `HIDDEN_DUE_TO_SECURITY_REASONS` (CloudTrail's redaction) counts as missing,
//!     so the name is shown as `unknown` when every candidate is hidden;
//!   - its template: `requestParameters.templateId`;
//!   - the created instance: `responseElements.managedApplicationInstanceId`, else
//!     `responseElements.managedApplicationInstance.managedApplicationInstanceId`, else
//!     `responseElements.applicationArn`;
//!   - its start URL when recorded: `requestParameters.startUrl`.
//!
//!   Also `userIdentity.invokedBy` (the AWS service that called on the user's behalf,
//!   shown as "via ..."), `errorCode`, the account (`recipientAccountId`, else
//!   `userIdentity.accountId`) and the actor. `CreateManagedApplicationInstance` is not in
//!   the public SSO Admin API reference, so these names follow the fields the original
//!   design read (`displayName`, `templateId`, `startUrl`) plus the response ids its
//!   queries used; anything else is ignored rather than guessed.
//! - **Severity:** high. Title `SSO Application Instance Created`.
//! - **Known false positives:** AWS services create managed application instances on the
//!   customer's behalf when a user sets up Identity Center sign-in for them (Amazon Managed
//!   Grafana workspaces, EMR Studio, SageMaker and DataZone domains, Nimble Studio, ...).
//!   The "via" service and the user agent tell them apart; exclude them by `invokedBy` in
//!   the config if that churn is expected. `CreateApplicationInstance` (the older SAML
//!   application call) and the public `CreateApplication` API are other calls and stay
//!   silent, as does `DeleteManagedApplicationInstance` (`sso-app-deletion`).

use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "sso-app-creation";

const SOURCE: &str = "sso.amazonaws.com";
const EVENT: &str = "CreateManagedApplicationInstance";
const TITLE: &str = "SSO Application Instance Created";
/// CloudTrail's redaction marker; shown as `unknown`.
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

const NAME_FIELDS: &[&str] =
    &["requestParameters.displayName", "requestParameters.name", "requestParameters.applicationName"];
const INSTANCE_FIELDS: &[&str] = &[
    "responseElements.managedApplicationInstanceId",
    "responseElements.managedApplicationInstance.managedApplicationInstanceId",
    "responseElements.applicationArn",
];

#[derive(Default)]
pub struct SsoAppCreation;

/// A scalar at `path` as display text: `None` when absent, not a scalar, blank or hidden.
fn text(event: &Event, path: &str) -> Option<String> {
    event.str_field(path).map(|v| v.trim().to_string()).filter(|v| !v.is_empty() && v != HIDDEN)
}

/// The first usable value among `paths`.
fn first(event: &Event, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| text(event, p))
}

impl Detector for SsoAppCreation {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Managed application instance created in IAM Identity Center".into(),
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
        let name = first(event, NAME_FIELDS).unwrap_or_else(unknown);
        let template = text(event, "requestParameters.templateId").unwrap_or_else(unknown);
        let instance = first(event, INSTANCE_FIELDS).unwrap_or_else(unknown);
        let account = event.changed_account().unwrap_or_else(unknown);
        let actor = event.actor_or_unknown();
        let mut message = format!(
            "New SSO application instance '{name}' created by {actor} in account {account} - \
             template: {template}, instance: {instance}"
        );
        if let Some(url) = text(event, "requestParameters.startUrl") {
            message.push_str(&format!(", URL: {url}"));
        }
        let via = text(event, "userIdentity.invokedBy").filter(|s| *s != actor);
        if let Some(service) = &via {
            message.push_str(&format!(" (via {service})"));
        }
        let mut alert = Alert::new(Severity::High, TITLE, message)
            .with_context("account", account)
            .with_context("application", name)
            .with_context("instance", instance);
        if let Some(service) = via {
            alert = alert.with_context("invoked_by", service);
        }
        Ok(vec![alert])
    }
}

iam_tracker_plugin_sdk::export_detector!(SsoAppCreation);

#[cfg(test)]
mod tests {
    use super::*;
    use iam_tracker_plugin_sdk::NativeEvent;

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::SsoAppCreation>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    #[test]
    fn detect_checks_the_event_source_itself() {
        // The host filters by subscription, but detect must not rely on it.
        let ev = NativeEvent::from_value(iam_tracker_plugin_sdk::serde_json::json!({
            "eventSource": "sso-directory.amazonaws.com",
            "eventName": EVENT,
            "requestParameters": {"displayName": "grafana"}
        }));
        assert!(SsoAppCreation.detect(&ev.event()).expect("detect").is_empty());
    }

    #[test]
    fn hidden_display_name_falls_back_to_name() {
        let ev = NativeEvent::from_value(iam_tracker_plugin_sdk::serde_json::json!({
            "eventSource": SOURCE,
            "eventName": EVENT,
            "userIdentity": {"type": "IAMUser", "userName": "alice"},
            "requestParameters": {"displayName": HIDDEN, "name": "analytics-studio"}
        }));
        let alerts = SsoAppCreation.detect(&ev.event()).expect("detect");
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].message.contains("'analytics-studio'"), "{}", alerts[0].message);
        assert!(!alerts[0].message.contains(HIDDEN), "{}", alerts[0].message);
    }
}
