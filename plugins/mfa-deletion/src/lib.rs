//! `mfa-deletion`: an IAM MFA device taken away from a user (or from the root user).
//!
//! - **Detects:** a successful `iam.amazonaws.com` / `DeactivateMFADevice`
//!   (`MFA Device Deactivated`: the device is no longer required at sign-in) and a successful
//!   `iam.amazonaws.com` / `DeleteVirtualMFADevice` (`MFA Device Deleted`). The message names
//!   the user (Deactivate) or the device owner (Delete), the serial number, the actor and the
//!   account. Failed calls (`errorCode`) changed nothing and stay silent. A successful call with
//!   no request details (absent, `null` or `{}` `requestParameters`) still alerts, with
//!   `unknown` in place of the missing facts, because the device is gone either way.
//! - **Reads:** `requestParameters.userName` and `requestParameters.serialNumber`
//!   (Deactivate); `requestParameters.serialNumber` (Delete), whose owner is the name after
//!   `:mfa/` in the serial ARN (`arn:aws:iam::111122223333:mfa/alice` -> `alice`; the last path
//!   segment when the device has a path). When Deactivate has no `userName`, the user is
//!   `root` when the caller is the root user, else the owner from a virtual device's serial
//!   ARN. Root MFA is recorded with the literal user name `AWS ROOT USER`, shown as is.
//! - **Severity:** critical.
//! - **Known false positives:** device rotation and lost-phone resets: a Deactivate, Delete,
//!   CreateVirtualMFADevice, EnableMFADevice sequence for the same user within minutes is
//!   routine. `CreateVirtualMFADevice`, `EnableMFADevice` and `ResyncMFADevice` are not
//!   subscribed to and stay silent; Identity Center directory users' MFA removal is a
//!   different event (`sso-directory.amazonaws.com` / `DeleteMfaDeviceForUser`).

use iam_tracker_plugin_sdk::arn::last_segment;
use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "mfa-deletion";

const IAM: &str = "iam.amazonaws.com";
const DEACTIVATE: &str = "DeactivateMFADevice";
const DELETE_VIRTUAL: &str = "DeleteVirtualMFADevice";

#[derive(Default)]
pub struct MfaDeletion;

/// The device name of a virtual MFA serial ARN (`...:mfa/path/name` -> `name`).
fn mfa_owner(serial: &str) -> Option<&str> {
    let (_, rest) = serial.trim().split_once(":mfa/")?;
    let name = last_segment(rest);
    (!name.trim().is_empty()).then_some(name)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl Detector for MfaDeletion {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "IAM MFA device deactivated or virtual MFA device deleted".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Critical,
            subscriptions: vec![Subscription::new(IAM, DEACTIVATE), Subscription::new(IAM, DELETE_VIRTUAL)],
        }
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        let deactivate = event.is(IAM, DEACTIVATE);
        if !(deactivate || event.is(IAM, DELETE_VIRTUAL)) || event.failed() {
            return Ok(vec![]);
        }
        let serial = non_empty(event.str_field("requestParameters.serialNumber"));
        let actor = event.actor_or_unknown();
        let account = event.changed_account().unwrap_or_else(|| "unknown".into());
        let serial_text = serial.clone().unwrap_or_else(|| "unknown".into());
        let owner_from_serial = serial.as_deref().and_then(mfa_owner).map(str::to_string);

        let (title, user, message) = if deactivate {
            let user = non_empty(event.str_field("requestParameters.userName"))
                .or_else(|| (event.identity_type().as_deref() == Some("Root")).then(|| "root".to_string()))
                .or(owner_from_serial)
                .unwrap_or_else(|| "unknown".into());
            let message = format!(
                "{actor} deactivated MFA device {serial_text} of user {user} in account {account}; the user can now sign in without it"
            );
            ("MFA Device Deactivated", user, message)
        } else {
            let owner = owner_from_serial.unwrap_or_else(|| "unknown".into());
            let message =
                format!("{actor} deleted virtual MFA device {serial_text} (owner {owner}) in account {account}");
            ("MFA Device Deleted", owner, message)
        };
        Ok(vec![Alert::new(Severity::Critical, title, message)
            .with_context("user", user)
            .with_context("serial_number", serial_text)
            .with_context("account", account)])
    }
}

iam_tracker_plugin_sdk::export_detector!(MfaDeletion);

#[cfg(test)]
mod tests {
    use super::*;
    use iam_tracker_plugin_sdk::{serde_json, NativeEvent};

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::MfaDeletion>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    #[test]
    fn other_event_source_is_ignored_inside_detect() {
        let ev = NativeEvent::from_value(serde_json::json!({
            "eventSource": "example.amazonaws.com",
            "eventName": "DeleteVirtualMFADevice",
            "requestParameters": {"serialNumber": "arn:aws:iam::111122223333:mfa/alice"},
            "recipientAccountId": "111122223333"
        }));
        assert!(MfaDeletion.detect(&ev.event()).expect("detect").is_empty());
    }

    #[test]
    fn owners_from_serial_arns() {
        assert_eq!(mfa_owner("arn:aws:iam::111122223333:mfa/alice"), Some("alice"));
        assert_eq!(mfa_owner("arn:aws-cn:iam::111122223333:mfa/team/ops/bob"), Some("bob"));
        assert_eq!(mfa_owner("arn:aws:iam::111122223333:mfa/"), None);
        assert_eq!(mfa_owner("GAHT12345678"), None);
    }
}
