//! `dangerous-inline-policy`: an inline policy granting full admin, full IAM or full STS
//! access was put on an IAM user, role or group.
//!
//! - **Detects:** a successful `iam.amazonaws.com` / `PutUserPolicy`, `PutRolePolicy` or
//!   `PutGroupPolicy` call whose `requestParameters.policyDocument` has a statement with
//!   `Effect` `Allow` (any case) that either uses `NotAction` (allow everything except the
//!   listed actions) or lists an action `*`, `*:*`, `iam:*` or `sts:*` (compared
//!   case-insensitively). One alert per event, for the most severe finding:
//!   `Full Admin Policy Attached` (`*`, `*:*`, `NotAction`), else
//!   `Full IAM Permissions Attached` (`iam:*`), else `Full STS Permissions Attached` (`sts:*`).
//!   `Deny` statements never count (AWS's own quarantine policies are `Deny` with `*`).
//!   Managed policies (`CreatePolicy`, `CreatePolicyVersion`) are not subscribed to. Failed
//!   calls stay silent.
//! - **Reads:** `requestParameters.policyDocument` (JSON text, URL-encoded text or an object;
//!   `Statement` object or list; `Action` string or list), `policyName`, `userName` /
//!   `roleName` / `groupName`, the actor, the changed account. An unparseable or missing
//!   document is not an alert: it is logged at debug level and nothing is recorded.
//! - **Severity:** critical.
//! - **Known false positives:** break-glass and bootstrap roles given inline admin rights by
//!   IaC; IAM Identity Center provisioning of permission sets with inline admin policies on
//!   `AWSReservedSSO_*` roles (`invokedBy sso.amazonaws.com`). `Resource` and `Condition` are
//!   not weighed: an `iam:*` scoped to one resource or condition still fires, because the
//!   rule flags the grant pattern, not the effective permission. Service-prefix wildcards
//!   such as `s3:*` and partial wildcards such as `iam:Put*` do not fire.

use iam_tracker_plugin_sdk::log;
use iam_tracker_plugin_sdk::prelude::*;

/// Plugin id.
pub const ID: &str = "dangerous-inline-policy";

const SOURCE: &str = "iam.amazonaws.com";

/// Subscribed event names and, for each, the principal kind and its request field.
const TARGETS: &[(&str, &str, &str)] = &[
    ("PutUserPolicy", "user", "userName"),
    ("PutRolePolicy", "role", "roleName"),
    ("PutGroupPolicy", "group", "groupName"),
];

/// The full-access grant a statement makes (all actions, all IAM, all STS), least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    Sts,
    Iam,
    Admin,
}

impl Grant {
    fn title(self) -> &'static str {
        match self {
            Grant::Admin => "Full Admin Policy Attached",
            Grant::Iam => "Full IAM Permissions Attached",
            Grant::Sts => "Full STS Permissions Attached",
        }
    }
}

/// The most severe grant of one statement, with a short description of why.
fn statement_grant(statement: &Statement) -> Option<(Grant, String)> {
    if !statement.is_allow() {
        return None;
    }
    if let Some(not_actions) = &statement.not_actions {
        return Some((
            Grant::Admin,
            format!("an Allow statement with NotAction {not_actions:?} (allows every action except those)"),
        ));
    }
    statement
        .actions
        .iter()
        .filter_map(|action| {
            let grant = match action.trim().to_ascii_lowercase().as_str() {
                "*" | "*:*" => Grant::Admin,
                "iam:*" => Grant::Iam,
                "sts:*" => Grant::Sts,
                _ => return None,
            };
            Some((grant, format!("an Allow statement with Action {:?}", action.trim())))
        })
        .max_by_key(|(grant, _)| *grant)
}

/// The most severe grant in the policy (first statement wins among equals).
fn worst_grant(policy: &Policy) -> Option<(Grant, String)> {
    policy.statements.iter().filter_map(statement_grant).fold(None, |best, cur| match best {
        Some(b) if b.0 >= cur.0 => Some(b),
        _ => Some(cur),
    })
}

#[derive(Default)]
pub struct DangerousInlinePolicy;

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl Detector for DangerousInlinePolicy {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Inline policy granting full admin, full IAM or full STS access put on a user, role or group"
                .into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Critical,
            subscriptions: TARGETS.iter().map(|(name, _, _)| Subscription::new(SOURCE, name)).collect(),
        }
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        let Some(&(name, kind, field)) = TARGETS.iter().find(|(name, _, _)| event.is(SOURCE, name)) else {
            return Ok(vec![]);
        };
        if event.failed() {
            return Ok(vec![]);
        }
        let Some(policy) = Policy::from_event(event, "requestParameters.policyDocument") else {
            if event.field_json("requestParameters.policyDocument").is_some() {
                log::debug(&format!(
                    "{ID}: {name} event {} has a policyDocument that does not parse; skipped",
                    event.event_id().unwrap_or_default()
                ));
            }
            return Ok(vec![]);
        };
        let Some((grant, why)) = worst_grant(&policy) else {
            return Ok(vec![]);
        };
        let policy_name =
            non_empty(event.str_field("requestParameters.policyName")).unwrap_or_else(|| "unknown".into());
        let target =
            non_empty(event.str_field(&format!("requestParameters.{field}"))).unwrap_or_else(|| "unknown".into());
        let actor = event.actor_or_unknown();
        let account = event.changed_account().unwrap_or_else(|| "unknown".into());
        let message = format!(
            "Inline policy {policy_name} put on IAM {kind} {target} in account {account} by {actor} contains {why}"
        );
        Ok(vec![Alert::new(Severity::Critical, grant.title(), message)
            .with_context("account", account)
            .with_context("policy_name", policy_name)
            .with_context(format!("target_{kind}"), target)])
    }
}

iam_tracker_plugin_sdk::export_detector!(DangerousInlinePolicy);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::DangerousInlinePolicy>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }

    fn grant_of(doc: &str) -> Option<Grant> {
        worst_grant(&Policy::parse(doc)?).map(|(g, _)| g)
    }

    #[test]
    fn most_severe_grant_wins() {
        let doc =
            r#"{"Statement":[{"Effect":"Allow","Action":"sts:*"},{"Effect":"allow","Action":["s3:Get*","IAM:*"]}]}"#;
        assert_eq!(grant_of(doc), Some(Grant::Iam));
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"sts:*"},{"Effect":"Allow","Action":"*:*"}]}"#;
        assert_eq!(grant_of(doc), Some(Grant::Admin));
        let doc = r#"{"Statement":{"Effect":"ALLOW","NotAction":"iam:*","Resource":"*"}}"#;
        assert_eq!(grant_of(doc), Some(Grant::Admin));
        let doc = r#"{"Statement":[{"Effect":"Deny","Action":"*"},{"Effect":"Allow","Action":["s3:*","iam:Put*"]}]}"#;
        assert_eq!(grant_of(doc), None);
        let doc = r#"{"Statement":[{"Action":"*"}]}"#;
        assert_eq!(grant_of(doc), None);
    }
}
