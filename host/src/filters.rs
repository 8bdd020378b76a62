//! Host-side event filters (configuration, not plugins), as the detector spec defines them:
//!
//! - `FILTER_AWS_SERVICE_EVENTS` (default on): drop events whose session issuer ARN
//!   contains `/aws-service-role/` (service-linked roles), and `AWSService` identities
//!   acting on service-linked roles (e.g. assuming one).
//! - `FILTERED_ROLES`: comma-separated, case-insensitive patterns with `*` as the only
//!   wildcard. A pattern starting with `arn:` must match the whole ARN; any other pattern
//!   must match one whole `/`-separated segment (`WizRole` matches `role/WizRole` and
//!   `assumed-role/WizRole/s`, not `MyWizRole`). Tested against the AssumeRole `roleArn`,
//!   the extracted user name and the principal ARN.
//!
//! Dropped events are counted per reason by the caller, never silently lost.

use crate::config::{glob_match, parse_bool};
use crate::event::CloudTrailEvent;

/// Why an event was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FilterReason {
    /// A service-linked role, or a service acting on one.
    AwsServiceEvent,
    /// Matched a `FILTERED_ROLES` pattern.
    FilteredRole,
}

impl FilterReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterReason::AwsServiceEvent => "aws-service-event",
            FilterReason::FilteredRole => "filtered-role",
        }
    }
}

/// The filter settings.
#[derive(Debug, Clone)]
pub struct Filters {
    pub aws_service_events: bool,
    pub role_patterns: Vec<String>,
}

impl Default for Filters {
    fn default() -> Self {
        Filters { aws_service_events: true, role_patterns: Vec::new() }
    }
}

impl Filters {
    /// From `FILTER_AWS_SERVICE_EVENTS` (true/false, 1/0, yes/no; default true) and
    /// `FILTERED_ROLES`; an invalid value is an error naming the variable.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`Filters::from_env`], reading variables through `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut f = Filters::default();
        if let Some(v) = get("FILTER_AWS_SERVICE_EVENTS").filter(|v| !v.trim().is_empty()) {
            f.aws_service_events = parse_bool(v.trim())
                .ok_or_else(|| format!("FILTER_AWS_SERVICE_EVENTS=`{v}` is not a boolean (true or false)"))?;
        }
        if let Some(v) = get("FILTERED_ROLES") {
            f.role_patterns = Self::parse_roles(&v);
        }
        Ok(f)
    }

    /// Parse `FILTERED_ROLES` (comma-separated; blanks ignored).
    pub fn parse_roles(list: &str) -> Vec<String> {
        list.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect()
    }

    /// The reason to drop this event, if any.
    pub fn check(&self, event: &CloudTrailEvent, user_name: &str) -> Option<FilterReason> {
        let role_arn = event.field_text("requestParameters.roleArn");
        if self.aws_service_events {
            let slr = |s: Option<&str>| s.is_some_and(|a| a.contains("/aws-service-role/"));
            if slr(event.identity.session_issuer_arn.as_deref()) {
                return Some(FilterReason::AwsServiceEvent);
            }
            if event.identity.identity_type.as_deref() == Some("AWSService") && slr(role_arn.as_deref()) {
                return Some(FilterReason::AwsServiceEvent);
            }
        }
        if !self.role_patterns.is_empty() {
            let candidates = [role_arn.as_deref(), Some(user_name), event.identity.arn.as_deref()];
            for value in candidates.into_iter().flatten() {
                if self.role_patterns.iter().any(|p| role_pattern_matches(p, value)) {
                    return Some(FilterReason::FilteredRole);
                }
            }
        }
        None
    }
}

/// One `FILTERED_ROLES` pattern against one value (see the module doc).
pub fn role_pattern_matches(pattern: &str, value: &str) -> bool {
    if pattern.len() >= 4 && pattern[..4].eq_ignore_ascii_case("arn:") {
        return glob_match(pattern, value, true);
    }
    value.split('/').any(|segment| glob_match(pattern, segment, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(json: &str) -> CloudTrailEvent {
        CloudTrailEvent::parse(json).expect("record")
    }

    #[test]
    fn settings_come_from_the_environment_variables() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let f = Filters::from_vars(vars(&[])).expect("defaults");
        assert!(f.aws_service_events && f.role_patterns.is_empty());
        let f =
            Filters::from_vars(vars(&[("FILTER_AWS_SERVICE_EVENTS", "False"), ("FILTERED_ROLES", "WizRole, Scan*")]))
                .expect("valid");
        assert!(!f.aws_service_events);
        assert_eq!(f.role_patterns, vec!["WizRole".to_string(), "Scan*".to_string()]);
        let e = Filters::from_vars(vars(&[("FILTER_AWS_SERVICE_EVENTS", "maybe")])).expect_err("invalid");
        assert!(e.contains("FILTER_AWS_SERVICE_EVENTS") && e.contains("maybe"), "{e}");
    }

    #[test]
    fn role_patterns_match_whole_segments() {
        assert!(role_pattern_matches("WizRole", "arn:aws:iam::1:role/WizRole"));
        assert!(role_pattern_matches("wizrole", "arn:aws:sts::1:assumed-role/WizRole/session"));
        assert!(!role_pattern_matches("WizRole", "arn:aws:iam::1:role/MyWizRole"));
        assert!(role_pattern_matches("Wiz*", "arn:aws:iam::1:role/WizScanner"));
        assert!(role_pattern_matches("WizRole", "WizRole"));
        assert!(role_pattern_matches("arn:aws:iam::*:role/Wiz*", "arn:aws:iam::111122223333:role/WizScanner"));
        assert!(!role_pattern_matches("arn:aws:iam::*:role/Wiz", "arn:aws:iam::111122223333:role/WizScanner"));
    }

    #[test]
    fn service_linked_roles_are_dropped() {
        let f = Filters::default();
        let slr_session = ev(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"GetRole","userIdentity":{"type":"AssumedRole",
            "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"}}}}"#,
        );
        assert_eq!(f.check(&slr_session, "AWSServiceRoleForECS"), Some(FilterReason::AwsServiceEvent));
        let service_assume = ev(
            r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","userIdentity":{"type":"AWSService","invokedBy":"ecs.amazonaws.com"},
            "requestParameters":{"roleArn":"arn:aws:iam::1:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"}}"#,
        );
        assert_eq!(f.check(&service_assume, "AWSServiceRoleForECS"), Some(FilterReason::AwsServiceEvent));
        let normal = ev(
            r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","userIdentity":{"type":"AWSService","invokedBy":"lambda.amazonaws.com"},
            "requestParameters":{"roleArn":"arn:aws:iam::1:role/my-lambda"}}"#,
        );
        assert_eq!(f.check(&normal, "my-lambda"), None);
        let off = Filters { aws_service_events: false, ..Filters::default() };
        assert_eq!(off.check(&slr_session, "x"), None);
    }

    #[test]
    fn filtered_roles_test_role_arn_user_name_and_principal() {
        let f = Filters {
            aws_service_events: true,
            role_patterns: Filters::parse_roles(" WizRole , ,arn:aws:iam::*:user/scanner "),
        };
        assert_eq!(f.role_patterns, vec!["WizRole", "arn:aws:iam::*:user/scanner"]);
        let by_role_arn = ev(
            r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","requestParameters":{"roleArn":"arn:aws:iam::1:role/WizRole"}}"#,
        );
        assert_eq!(f.check(&by_role_arn, "WizRole"), Some(FilterReason::FilteredRole));
        let by_principal = ev(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"ListUsers","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/scanner"}}"#,
        );
        assert_eq!(f.check(&by_principal, "scanner"), Some(FilterReason::FilteredRole));
        let other = ev(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"ListUsers","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/MyWizRole"}}"#,
        );
        assert_eq!(f.check(&other, "MyWizRole"), None);
    }
}
