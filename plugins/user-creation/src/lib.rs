//! `user-creation`: a new IAM user was created.
//!
//! - **Detects:** a successful `iam.amazonaws.com` / `CreateUser` call (`IAM User Created`).
//!   Calls that failed (`errorCode` present, e.g. `EntityAlreadyExists`) created nothing
//!   and stay silent. `CreateUser` from other services (Identity Store, the Identity Center
//!   directory) is not subscribed to.
//! - **Reads:** `requestParameters.userName` (falling back to
//!   `responseElements.user.userName`), `requestParameters.path` and
//!   `responseElements.user.arn` and `userIdentity.invokedBy` (shown as "via <service>",
//!   e.g. CloudFormation) when present, the actor, the changed account.
//! - **Severity:** high.
//! - **Known false positives:** users created by infrastructure-as-code pipelines and
//!   CloudFormation stacks (`invokedBy cloudformation.amazonaws.com`) and by onboarding
//!   automation; exclude those principals or user agents in the config rather than disabling
//!   the rule. A user name missing from the record is reported as `unknown`, not dropped.

use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "user-creation";

const SOURCE: &str = "iam.amazonaws.com";
const NAME: &str = "CreateUser";

#[derive(Default)]
pub struct UserCreation;

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl Detector for UserCreation {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A new IAM user was created".into(),
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
        let user = non_empty(event.str_field("requestParameters.userName"))
            .or_else(|| non_empty(event.str_field("responseElements.user.userName")))
            .unwrap_or_else(|| "unknown".into());
        let mut message = format!("IAM user {user} was created in account {account} by {actor}");
        if let Some(path) = non_empty(event.str_field("requestParameters.path")).filter(|p| p != "/") {
            message.push_str(&format!(" (path {path})"));
        }
        if let Some(service) = non_empty(event.invoked_by()) {
            message.push_str(&format!(" via {service}"));
        }
        if let Some(arn) = non_empty(event.str_field("responseElements.user.arn")) {
            message.push_str(&format!("; new user ARN {arn}"));
        }
        Ok(vec![Alert::new(Severity::High, "IAM User Created", message)
            .with_context("account", account)
            .with_context("target_user", user)])
    }
}

iam_tracker_plugin_sdk::export_detector!(UserCreation);

#[cfg(test)]
mod tests {
    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::UserCreation>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }
}
