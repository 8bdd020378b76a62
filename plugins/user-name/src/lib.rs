//! `user-name`: the extractor that names the actor of every event.
//!
//! - **Returns:** the name stored as `user_name` and shown as "the actor" in alerts.
//!   First match wins:
//!   1. `sts` AssumeRole / AssumeRoleWithSAML / AssumeRoleWithWebIdentity with
//!      `requestParameters.roleArn`: the role name (last segment after `:role/`);
//!   2. Root: `root` (every event, not only ConsoleLogin);
//!   3. IAMUser, SAMLUser, WebIdentityUser, Unknown, IdentityCenterUser with a `userName`:
//!      that name (`HIDDEN_DUE_TO_SECURITY_REASONS` is kept as recorded);
//!   4. AssumedRole: the session issuer's `userName`, else the role in the
//!      `assumed-role/<role>/<session>` ARN;
//!   5. FederatedUser: the name after `federated-user/`;
//!   6. AWSService: `invokedBy`;
//!   7. AWSAccount: `accountId`, else `principalId`;
//!   8. otherwise the last `/` segment of the ARN, else `principalId`, else `unknown`.
//! - **Reads:** `userIdentity`, `requestParameters.roleArn` for AssumeRole calls.
//! - **Known limits:** rule 1 names the *assumed* role, not the caller, on purpose (it tracks
//!   role usage); the caller stays in the stored principal ARN and identity type.
//!
//! The rules live in the SDK (`identity::extract_user_name`) so that native detector tests
//! compute the same actor the host passes to detectors.

use iam_tracker_plugin_sdk::identity::extract_user_name;
use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "user-name";

#[derive(Default)]
pub struct UserName;

impl Extractor for UserName {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Names the actor of each event (stored as user_name)".into(),
            kind: PluginKind::Extractor,
            default_severity: Severity::Info,
            subscriptions: vec![Subscription::new("*", "*")],
        }
    }

    fn extract_user_name(&self, event: &Event) -> Option<String> {
        Some(extract_user_name(event))
    }
}

iam_tracker_plugin_sdk::export_extractor!(UserName);

#[cfg(test)]
mod tests {
    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_extractor_cases::<super::UserName>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }
}
