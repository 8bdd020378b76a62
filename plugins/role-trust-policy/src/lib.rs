//! `role-trust-policy`: role trust policies that let anyone, or another account, assume the role.
//!
//! - **Detects:** a successful `iam.amazonaws.com` / `CreateRole` or `UpdateAssumeRolePolicy`
//!   whose trust policy has an `Allow` statement with a wildcard principal (`"*"`,
//!   `{"AWS": "*"}`, or a list containing `"*"`): `Role Trust Policy with Wildcard Principal`;
//!   otherwise an `AWS` principal naming another account (an ARN whose account field differs
//!   from the changed account, or a bare 12-digit id that differs): `Role Trust Policy with
//!   External Account`. One alert per event; the wildcard wins. The message names the role,
//!   the actor, the changed account and every external account with the principal that named it.
//!   `Service` and `Federated` principals are never external. Accounts listed in the global
//!   `trusted_account_ids` setting are never reported. `Deny` statements are ignored. Failed
//!   calls (`errorCode`) changed nothing and stay silent.
//! - **Reads:** `requestParameters.assumeRolePolicyDocument` (CreateRole) or
//!   `requestParameters.policyDocument` (UpdateAssumeRolePolicy) as JSON text, URL-encoded
//!   text or an object; `requestParameters.roleName` (falling back to
//!   `responseElements.role.roleName`); `recipientAccountId` / `userIdentity.accountId`;
//!   `responseElements.role.arn`; `errorCode`. An unparseable or missing document is not an
//!   alert.
//! - **Changed account unknown or a placeholder:** when `recipientAccountId` /
//!   `userIdentity.accountId` is not a 12-digit id (`xxx`, `redacted`, 9- or 13-digit ids),
//!   the account field of `responseElements.role.arn` (CreateRole) is used if it is one.
//!   Failing that, the raw value is compared as text (so a consistently redacted record still
//!   recognises its own account) and, when there is no value at all, every principal that names
//!   an account is reported, because nothing shows it is internal; the message then says the
//!   changed account could not be verified. Principals that name no account (unique ids such as
//!   `AROA...` left after a referenced role was deleted) are not reported. A principal ARN whose
//!   account field is `*` counts as a wildcard.
//! - **Severity:** critical.
//! - **Known false positives:** deliberate cross-account access (CI/CD, security tooling,
//!   organisation management accounts): list those accounts in `trusted_account_ids`.
//!   Wildcard principals restricted by a `Condition` (`aws:PrincipalOrgID`, `sts:ExternalId`)
//!   are still reported, since conditions are easy to get wrong and `sts:ExternalId` does not
//!   make `"*"` safe.

use iam_tracker_plugin_sdk::arn::{is_account_id, Arn};
use iam_tracker_plugin_sdk::config::{self, NoSettings};
use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "role-trust-policy";

const IAM: &str = "iam.amazonaws.com";
const CREATE_ROLE: &str = "CreateRole";
const UPDATE_TRUST: &str = "UpdateAssumeRolePolicy";

const TITLE_WILDCARD: &str = "Role Trust Policy with Wildcard Principal";
const TITLE_EXTERNAL: &str = "Role Trust Policy with External Account";

#[derive(Default)]
pub struct RoleTrustPolicy {
    /// Account ids never reported as external (`trusted_account_ids`).
    trusted: Vec<String>,
}

/// What a trust policy grants beyond the account itself.
#[derive(Debug, PartialEq, Eq)]
enum Finding {
    Wildcard,
    /// `(account, principal)` pairs, first occurrence of each account, in document order.
    External(Vec<(String, String)>),
}

/// The account an `AWS` principal names: an ARN's account field or a bare 12-digit id.
fn principal_account(principal: &str) -> Option<&str> {
    let p = principal.trim();
    if let Some(arn) = Arn::parse(p) {
        let account = arn.account.trim();
        return (!account.is_empty()).then_some(account);
    }
    is_account_id(p).then_some(p)
}

/// The account being changed, following the placeholder rules in the module doc.
fn changed_account(event: &Event) -> Option<String> {
    let recorded = event.changed_account().map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
    if recorded.as_deref().is_some_and(is_account_id) {
        return recorded;
    }
    let from_role = event
        .str_field("responseElements.role.arn")
        .and_then(|r| Arn::parse(r.trim()).map(|a| a.account.to_string()))
        .filter(|a| is_account_id(a));
    from_role.or(recorded)
}

impl RoleTrustPolicy {
    fn assess(&self, policy: &Policy, home: Option<&str>) -> Option<Finding> {
        let mut external: Vec<(String, String)> = Vec::new();
        for statement in policy.statements.iter().filter(|s| s.is_allow()) {
            let Some(principal) = &statement.principal else { continue };
            if principal.is_wildcard() {
                return Some(Finding::Wildcard);
            }
            for aws in &principal.aws {
                let Some(account) = principal_account(aws) else { continue };
                if account == "*" {
                    return Some(Finding::Wildcard);
                }
                if home == Some(account)
                    || self.trusted.iter().any(|t| t == account)
                    || external.iter().any(|(a, _)| a == account)
                {
                    continue;
                }
                external.push((account.to_string(), aws.trim().to_string()));
            }
        }
        (!external.is_empty()).then_some(Finding::External(external))
    }
}

impl Detector for RoleTrustPolicy {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Role trust policy that allows a wildcard principal or another AWS account".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Critical,
            subscriptions: vec![Subscription::new(IAM, CREATE_ROLE), Subscription::new(IAM, UPDATE_TRUST)],
        }
    }

    fn configure(&mut self, config: &str) -> Result<(), PluginError> {
        let (common, NoSettings {}) = config::parse::<NoSettings>(config)?;
        self.trusted =
            common.trusted_account_ids.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
        Ok(())
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        let path = if event.is(IAM, CREATE_ROLE) {
            "requestParameters.assumeRolePolicyDocument"
        } else if event.is(IAM, UPDATE_TRUST) {
            "requestParameters.policyDocument"
        } else {
            return Ok(vec![]);
        };
        if event.failed() {
            return Ok(vec![]);
        }
        let Some(policy) = Policy::from_event(event, path) else {
            return Ok(vec![]);
        };
        let home = changed_account(event);
        let Some(finding) = self.assess(&policy, home.as_deref()) else {
            return Ok(vec![]);
        };

        let role = event
            .str_field("requestParameters.roleName")
            .or_else(|| event.str_field("responseElements.role.roleName"))
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| "unknown".into());
        let actor = event.actor_or_unknown();
        let account = home.clone().unwrap_or_else(|| "unknown".into());
        let verified = home.as_deref().is_some_and(is_account_id);
        let call = event.event_name();

        let (title, message, externals) = match finding {
            Finding::Wildcard => (
                TITLE_WILDCARD,
                format!(
                    "{actor} set the trust policy of role {role} in account {account} ({call}) to allow a wildcard principal (\"*\"): anyone can try to assume it"
                ),
                String::new(),
            ),
            Finding::External(list) => {
                let accounts: Vec<&str> = list.iter().map(|(a, _)| a.as_str()).collect();
                let principals: Vec<&str> = list.iter().map(|(_, p)| p.as_str()).collect();
                let caveat = if verified { "" } else { " (the changed account could not be verified)" };
                (
                    TITLE_EXTERNAL,
                    format!(
                        "{actor} set the trust policy of role {role} in account {account} ({call}) to trust external account(s) {}: {}{caveat}",
                        accounts.join(", "),
                        principals.join(", ")
                    ),
                    accounts.join(","),
                )
            }
        };
        let mut alert =
            Alert::new(Severity::Critical, title, message).with_context("role", role).with_context("account", account);
        if !externals.is_empty() {
            alert = alert.with_context("external_accounts", externals);
        }
        Ok(vec![alert])
    }
}

iam_tracker_plugin_sdk::export_detector!(RoleTrustPolicy);

#[cfg(test)]
mod tests {
    use super::*;
    use iam_tracker_plugin_sdk::{serde_json, NativeEvent};

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::RoleTrustPolicy>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    fn update_event(source: &str, principal_aws: &str) -> NativeEvent {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":{principal_aws}}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let record = serde_json::json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE", "arn": "arn:aws:iam::111122223333:user/alice",
                             "accountId": "111122223333", "userName": "alice"},
            "eventTime": "2026-03-02T10:00:00Z",
            "eventSource": source,
            "eventName": "UpdateAssumeRolePolicy",
            "awsRegion": "us-east-1",
            "requestParameters": {"roleName": "ops", "policyDocument": doc},
            "responseElements": null,
            "eventID": "0b6c0b8e-7f6e-4a39-9a53-6c3f1e2d4a10",
            "recipientAccountId": "111122223333"
        });
        NativeEvent::from_value(record)
    }

    fn titles(det: &RoleTrustPolicy, ev: &NativeEvent) -> Vec<String> {
        det.detect(&ev.event()).unwrap_or_default().into_iter().map(|a| a.title).collect()
    }

    #[test]
    fn trusted_accounts_are_never_reported() {
        let mut det = RoleTrustPolicy::default();
        det.configure(r#"{"trusted_account_ids":["999988887777", " 444455556666 "]}"#).expect("valid config");

        // Trusted by ARN and by bare id: silent.
        let trusted = update_event(IAM, r#"["arn:aws:iam::999988887777:root","444455556666"]"#);
        assert!(titles(&det, &trusted).is_empty());

        // A trusted account next to an untrusted one: only the untrusted one is named.
        let mixed = update_event(IAM, r#"["arn:aws:iam::999988887777:root","arn:aws:iam::222233334444:role/ci"]"#);
        let alerts = det.detect(&mixed.event()).expect("detect");
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].title, TITLE_EXTERNAL);
        assert!(alerts[0].message.contains("222233334444"), "{}", alerts[0].message);
        assert!(!alerts[0].message.contains("999988887777"), "{}", alerts[0].message);

        // Trust never covers a wildcard.
        let wildcard = update_event(IAM, r#"["arn:aws:iam::999988887777:root","*"]"#);
        assert_eq!(titles(&det, &wildcard), vec![TITLE_WILDCARD]);

        // Without the setting the same account is external.
        let mut plain = RoleTrustPolicy::default();
        plain.configure("{}").expect("empty config");
        assert_eq!(titles(&plain, &trusted), vec![TITLE_EXTERNAL]);
    }

    #[test]
    fn config_rejects_unknown_keys_and_bad_types() {
        let mut det = RoleTrustPolicy::default();
        assert!(det.configure(r#"{"trusted_accounts":["999988887777"]}"#).is_err());
        assert!(det.configure(r#"{"trusted_account_ids":"999988887777"}"#).is_err());
    }

    #[test]
    fn other_event_source_is_ignored_inside_detect() {
        let det = RoleTrustPolicy::default();
        let ev = update_event("example.amazonaws.com", r#""*""#);
        assert!(titles(&det, &ev).is_empty());
    }

    #[test]
    fn no_changed_account_at_all_reports_every_account() {
        let det = RoleTrustPolicy::default();
        let ev = NativeEvent::from_value(serde_json::json!({
            "eventSource": IAM,
            "eventName": CREATE_ROLE,
            "userIdentity": {"type": "IAMUser", "userName": "alice"},
            "requestParameters": {"roleName": "app", "assumeRolePolicyDocument":
                r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["111122223333","AROAEXAMPLEUNIQUEID1"]}}}"#},
            "responseElements": null
        }));
        let alerts = det.detect(&ev.event()).expect("detect");
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].title, TITLE_EXTERNAL);
        for fact in ["app", "111122223333", "account unknown", "could not be verified"] {
            assert!(alerts[0].message.contains(fact), "{fact}: {}", alerts[0].message);
        }
        assert!(!alerts[0].message.contains("AROA"), "{}", alerts[0].message);
    }

    #[test]
    fn principal_accounts() {
        assert_eq!(principal_account("arn:aws-cn:iam::999988887777:user/x"), Some("999988887777"));
        assert_eq!(principal_account(" 999988887777 "), Some("999988887777"));
        assert_eq!(principal_account("AROAEXAMPLEUNIQUEID1"), None);
        assert_eq!(principal_account("12345678901"), None);
        assert_eq!(principal_account("arn:aws:iam:::root"), None);
    }
}
