//! Principal classification and the built-in user-name rules (see the detector spec).
//!
//! The `user-name` plugin exports [`extract_user_name`]; native tests use it to fill the
//! actor the host would pass to detectors.

use crate::arn;
use crate::event::Event;

/// `userIdentity.type`, classified. Unknown new types are kept as `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityType {
    Root,
    IamUser,
    AssumedRole,
    AwsAccount,
    AwsService,
    FederatedUser,
    SamlUser,
    WebIdentityUser,
    IdentityCenterUser,
    Unknown,
    Other(String),
    Missing,
}

impl IdentityType {
    pub fn of(event: &Event) -> IdentityType {
        match event.identity_type().as_deref() {
            None => IdentityType::Missing,
            Some("Root") => IdentityType::Root,
            Some("IAMUser") => IdentityType::IamUser,
            Some("AssumedRole") => IdentityType::AssumedRole,
            Some("AWSAccount") => IdentityType::AwsAccount,
            Some("AWSService") => IdentityType::AwsService,
            Some("FederatedUser") => IdentityType::FederatedUser,
            Some("SAMLUser") => IdentityType::SamlUser,
            Some("WebIdentityUser") => IdentityType::WebIdentityUser,
            Some("IdentityCenterUser") => IdentityType::IdentityCenterUser,
            Some("Unknown") => IdentityType::Unknown,
            Some(other) => IdentityType::Other(other.to_string()),
        }
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

/// The name stored as `user_name` and shown as "the actor". First match wins:
/// AssumeRole* role name, root, named users, assumed role, federated user, service,
/// account, then the last ARN segment, the principal id, or `unknown`.
pub fn extract_user_name(event: &Event) -> String {
    let name = event.event_name();
    if event.event_source() == "sts.amazonaws.com"
        && matches!(name.as_str(), "AssumeRole" | "AssumeRoleWithSAML" | "AssumeRoleWithWebIdentity")
    {
        if let Some(role) = event.str_field("requestParameters.roleArn").as_deref().and_then(arn::role_name) {
            return role.to_string();
        }
    }
    let identity_arn = non_empty(event.identity_arn());
    match IdentityType::of(event) {
        IdentityType::Root => return "root".to_string(),
        IdentityType::IamUser
        | IdentityType::SamlUser
        | IdentityType::WebIdentityUser
        | IdentityType::Unknown
        | IdentityType::IdentityCenterUser => {
            if let Some(u) = non_empty(event.user_name()) {
                return u;
            }
        }
        IdentityType::AssumedRole => {
            if let Some(u) = non_empty(event.str_field("userIdentity.sessionContext.sessionIssuer.userName")) {
                return u;
            }
            if let Some(role) = identity_arn.as_deref().and_then(arn::assumed_role_name) {
                return role.to_string();
            }
        }
        IdentityType::FederatedUser => {
            if let Some(u) = identity_arn.as_deref().and_then(arn::federated_user_name) {
                return u.to_string();
            }
        }
        IdentityType::AwsService => {
            if let Some(s) = non_empty(event.invoked_by()) {
                return s;
            }
        }
        IdentityType::AwsAccount => {
            if let Some(a) = non_empty(event.account_id()).or_else(|| non_empty(event.principal_id())) {
                return a;
            }
        }
        IdentityType::Other(_) | IdentityType::Missing => {}
    }
    if let Some(a) = identity_arn {
        let seg = arn::last_segment(&a);
        if !seg.is_empty() {
            return seg.to_string();
        }
    }
    non_empty(event.principal_id()).unwrap_or_else(|| "unknown".to_string())
}
