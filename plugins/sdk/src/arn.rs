//! ARN parsing and the name rules the detectors share (policy names, role names).

/// The default admin policy names (exact match on the policy name).
pub const DEFAULT_ADMIN_POLICIES: &[&str] = &[
    "AdministratorAccess",
    "IAMFullAccess",
    "PowerUserAccess",
    "AWSSSOMasterAccountAdministrator",
    "AWSIdentityCenterFullAccess",
    "AWSSSOMemberAccountAdministrator",
];

/// The parts of an ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Parse an ARN in any partition; `None` when it is not one.
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        if partition.is_empty() || service.is_empty() {
            return None;
        }
        Some(Arn { partition, service, region, account, resource })
    }
}

/// The text after the last `/` (the whole string when there is none).
pub fn last_segment(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// The policy name of a policy ARN (the text after the last `/`).
pub fn policy_name(policy_arn: &str) -> &str {
    last_segment(policy_arn)
}

/// Whether a policy ARN's name equals one of `names` exactly.
pub fn is_admin_policy<S: AsRef<str>>(policy_arn: &str, names: &[S]) -> bool {
    let name = policy_name(policy_arn.trim());
    names.iter().any(|n| n.as_ref() == name)
}

/// The role name of a role ARN (`arn:aws:iam::1:role/path/Name` -> `Name`).
pub fn role_name(role_arn: &str) -> Option<&str> {
    let (_, rest) = role_arn.split_once(":role/")?;
    let name = last_segment(rest);
    (!name.is_empty()).then_some(name)
}

/// The role name of an assumed-role ARN (`...:assumed-role/Role/session` -> `Role`).
pub fn assumed_role_name(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":assumed-role/")?;
    let name = rest.split('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// The user of a federated-user ARN (`...:federated-user/bob` -> `bob`).
pub fn federated_user_name(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":federated-user/")?;
    (!rest.is_empty()).then_some(rest)
}

/// A 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_other_partitions() {
        let a = Arn::parse("arn:aws-us-gov:iam::123456789012:role/x/y").expect("arn");
        assert_eq!(a.partition, "aws-us-gov");
        assert_eq!(a.account, "123456789012");
        assert_eq!(a.resource, "role/x/y");
        assert!(Arn::parse("not-an-arn").is_none());
    }

    #[test]
    fn admin_policy_is_exact_name() {
        let names = DEFAULT_ADMIN_POLICIES;
        assert!(is_admin_policy("arn:aws:iam::aws:policy/AdministratorAccess", names));
        assert!(is_admin_policy("arn:aws-cn:iam::aws:policy/job-function/PowerUserAccess", names));
        assert!(!is_admin_policy("arn:aws:iam::aws:policy/AdministratorAccess-Amplify", names));
        assert!(!is_admin_policy("arn:aws:iam::aws:policy/AmazonEC2FullAccess", names));
    }

    #[test]
    fn role_names() {
        assert_eq!(role_name("arn:aws:iam::1:role/path/Admin"), Some("Admin"));
        assert_eq!(role_name("arn:aws:iam::1:user/Admin"), None);
        assert_eq!(assumed_role_name("arn:aws:sts::1:assumed-role/Ops/sess"), Some("Ops"));
        assert_eq!(federated_user_name("arn:aws:sts::1:federated-user/bob"), Some("bob"));
        assert!(is_account_id("123456789012"));
        assert!(!is_account_id("12345678901"));
    }
}
