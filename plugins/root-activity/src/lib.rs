//! `root-activity`: sign-ins to the AWS console as the account's root user.
//!
//! - **Detects:** `signin.amazonaws.com` / `ConsoleLogin` where `userIdentity.type` is
//!   `Root`, whether it succeeded (`Root Account Login`) or failed (`Failed Root Login`).
//!   Success comes from `responseElements.ConsoleLogin` (`Success`/`Failure`, any case); a
//!   present `errorMessage` also means failure. A root ConsoleLogin with no recorded
//!   outcome is reported as a login, since root use is what matters.
//! - **Reads:** identity type, `responseElements.ConsoleLogin`, `errorMessage`,
//!   `additionalEventData.MFAUsed`, source IP, account.
//! - **Severity:** critical.
//! - **Known false positives:** planned break-glass use and the few tasks only root can do
//!   (closing the account, changing the support plan); exclude them by source IP or time in
//!   the config rather than disabling the rule. Root `ExternalIdPDirectoryLogin`,
//!   `PasswordUpdated` and `CheckMfa` events are not subscribed to and stay silent.

use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "root-activity";

#[derive(Default)]
pub struct RootActivity;

impl Detector for RootActivity {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Console sign-in (successful or failed) as the root user".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Critical,
            subscriptions: vec![Subscription::new("signin.amazonaws.com", "ConsoleLogin")],
        }
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        if !event.is("signin.amazonaws.com", "ConsoleLogin") || event.identity_type().as_deref() != Some("Root") {
            return Ok(vec![]);
        }
        let outcome = event.str_field("responseElements.ConsoleLogin");
        let failed = event.error_message().is_some_and(|m| !m.trim().is_empty())
            || outcome.as_deref().is_some_and(|o| o.eq_ignore_ascii_case("failure"));
        let ip = event.source_ip_address().unwrap_or_else(|| "unknown".into());
        let account = event.changed_account().unwrap_or_else(|| "unknown".into());
        let mfa = event.str_field("additionalEventData.MFAUsed").unwrap_or_else(|| "unknown".into());
        let (title, message) = if failed {
            let reason = event.error_message().unwrap_or_else(|| "Failed authentication".into());
            (
                "Failed Root Login",
                format!("Failed root console sign-in to account {account} from {ip} ({reason}); MFA used: {mfa}"),
            )
        } else {
            (
                "Root Account Login",
                format!("Root user signed in to the console of account {account} from {ip}; MFA used: {mfa}"),
            )
        };
        Ok(vec![Alert::new(Severity::Critical, title, message)
            .with_context("account", account)
            .with_context("source_ip", ip)])
    }
}

iam_tracker_plugin_sdk::export_detector!(RootActivity);

#[cfg(test)]
mod tests {
    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::RootActivity>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }
}
