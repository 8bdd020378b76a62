//! The event a rule sees: the host's `cloudtrail-event` resource in the guest, or a
//! `serde_json` value natively (tests). Both follow the same getter semantics:
//! a getter is `None` when the field is absent, null or not a scalar; numbers and booleans
//! come back as their JSON text.

use serde::de::DeserializeOwned;
use serde_json::Value;

#[cfg(target_arch = "wasm32")]
use crate::bindings::CloudtrailEvent;

/// A CloudTrail record held natively, for tests and native benchmarks.
#[derive(Debug, Clone)]
pub struct NativeEvent {
    value: Value,
    actor: Option<String>,
}

impl NativeEvent {
    /// Parse one record. The actor is computed with the built-in extractor rules.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        Ok(Self::from_value(serde_json::from_str(text)?))
    }

    /// Wrap a parsed record; the actor is computed with the built-in extractor rules.
    pub fn from_value(value: Value) -> Self {
        let mut ev = NativeEvent { value, actor: None };
        let actor = crate::identity::extract_user_name(&ev.event());
        ev.actor = Some(actor);
        ev
    }

    /// Override the actor (what the host's extractor would have returned).
    pub fn with_actor(mut self, actor: Option<String>) -> Self {
        self.actor = actor;
        self
    }

    /// The record as JSON.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// A rule's view of this record.
    pub fn event(&self) -> Event<'_> {
        Event { src: Src::Native(self) }
    }
}

enum Src<'a> {
    Native(&'a NativeEvent),
    #[cfg(target_arch = "wasm32")]
    Handle(&'a CloudtrailEvent),
}

/// One CloudTrail record, as seen by a rule.
pub struct Event<'a> {
    src: Src<'a>,
}

/// Walk a dotted path (`a.b.0.c`) through a JSON value.
pub fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = value;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(map) => map.get(seg)?,
            Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Getter semantics shared with the host: strings as is, numbers and booleans as JSON text,
/// everything else `None`.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

macro_rules! getters {
    ($( $(#[$doc:meta])* $name:ident => $path:literal ;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self) -> Option<String> {
                match &self.src {
                    Src::Native(n) => lookup(&n.value, $path).and_then(scalar_text),
                    #[cfg(target_arch = "wasm32")]
                    Src::Handle(h) => h.$name(),
                }
            }
        )*
    };
}

impl<'a> Event<'a> {
    #[cfg(target_arch = "wasm32")]
    #[doc(hidden)]
    pub fn from_handle(handle: &'a CloudtrailEvent) -> Self {
        Event { src: Src::Handle(handle) }
    }

    /// `eventSource` (the host guarantees it is present).
    pub fn event_source(&self) -> String {
        match &self.src {
            Src::Native(n) => lookup(&n.value, "eventSource").and_then(scalar_text).unwrap_or_default(),
            #[cfg(target_arch = "wasm32")]
            Src::Handle(h) => h.event_source(),
        }
    }

    /// `eventName` (the host guarantees it is present).
    pub fn event_name(&self) -> String {
        match &self.src {
            Src::Native(n) => lookup(&n.value, "eventName").and_then(scalar_text).unwrap_or_default(),
            #[cfg(target_arch = "wasm32")]
            Src::Handle(h) => h.event_name(),
        }
    }

    getters! {
        /// `eventID`
        event_id => "eventID";
        /// `eventTime`, raw (never needs parsing in a rule)
        event_time => "eventTime";
        /// `awsRegion`
        aws_region => "awsRegion";
        /// `sourceIPAddress`
        source_ip_address => "sourceIPAddress";
        /// `userAgent`
        user_agent => "userAgent";
        /// `errorCode`
        error_code => "errorCode";
        /// `errorMessage`
        error_message => "errorMessage";
        /// `recipientAccountId`
        recipient_account_id => "recipientAccountId";
        /// `userIdentity.type`
        identity_type => "userIdentity.type";
        /// `userIdentity.principalId`
        principal_id => "userIdentity.principalId";
        /// `userIdentity.arn`
        identity_arn => "userIdentity.arn";
        /// `userIdentity.accountId`
        account_id => "userIdentity.accountId";
        /// `userIdentity.userName`
        user_name => "userIdentity.userName";
        /// `userIdentity.invokedBy`
        invoked_by => "userIdentity.invokedBy";
        /// `userIdentity.sessionContext.sessionIssuer.arn`
        session_issuer_arn => "userIdentity.sessionContext.sessionIssuer.arn";
    }

    /// The actor: the user name the host's extractor derived (`None` inside the extractor).
    pub fn actor(&self) -> Option<String> {
        match &self.src {
            Src::Native(n) => n.actor.clone(),
            #[cfg(target_arch = "wasm32")]
            Src::Handle(h) => h.actor(),
        }
    }

    /// The actor, or `unknown`.
    pub fn actor_or_unknown(&self) -> String {
        self.actor().filter(|a| !a.is_empty()).unwrap_or_else(|| "unknown".to_string())
    }

    /// JSON text of the value at a dotted path; `None` when absent or null.
    pub fn field_json(&self, path: &str) -> Option<String> {
        match &self.src {
            Src::Native(n) => match lookup(&n.value, path)? {
                Value::Null => None,
                v => Some(v.to_string()),
            },
            #[cfg(target_arch = "wasm32")]
            Src::Handle(h) => h.field(path),
        }
    }

    /// The value at a dotted path, parsed as JSON.
    pub fn field_value(&self, path: &str) -> Option<Value> {
        serde_json::from_str(&self.field_json(path)?).ok()
    }

    /// The value at a dotted path, deserialized; `None` when absent, null or of another shape.
    pub fn field<T: DeserializeOwned>(&self, path: &str) -> Option<T> {
        serde_json::from_str(&self.field_json(path)?).ok()
    }

    /// A scalar at a dotted path as text (same semantics as the getters).
    pub fn str_field(&self, path: &str) -> Option<String> {
        scalar_text(&self.field_value(path)?)
    }

    /// The whole record as JSON text.
    pub fn raw_json(&self) -> String {
        match &self.src {
            Src::Native(n) => n.value.to_string(),
            #[cfg(target_arch = "wasm32")]
            Src::Handle(h) => h.raw_json(),
        }
    }

    /// The call failed (`errorCode` present and not empty): nothing changed.
    pub fn failed(&self) -> bool {
        self.error_code().is_some_and(|c| !c.trim().is_empty())
    }

    /// The account being changed: `recipientAccountId`, else `userIdentity.accountId`.
    pub fn changed_account(&self) -> Option<String> {
        self.recipient_account_id().filter(|a| !a.is_empty()).or_else(|| self.account_id().filter(|a| !a.is_empty()))
    }

    /// `eventSource` and `eventName` equal the given pair.
    pub fn is(&self, event_source: &str, event_name: &str) -> bool {
        self.event_name() == event_name && self.event_source() == event_source
    }

    /// The default dedup key for an alert from `detector` on this event.
    pub fn default_dedup_key(&self, detector: &str) -> String {
        format!("{detector}:{}", self.event_id().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getters_follow_host_semantics() {
        let ev = NativeEvent::from_json(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","recipientAccountId":123456789012,
                "readOnly":false,"requestParameters":null,"userIdentity":{"type":"IAMUser","userName":"alice"},
                "resources":[{"ARN":"arn:aws:iam::1:user/x"}]}"#,
        )
        .expect("valid json");
        let e = ev.event();
        assert_eq!(e.recipient_account_id().as_deref(), Some("123456789012"));
        assert_eq!(e.field_json("requestParameters"), None);
        assert_eq!(e.str_field("resources.0.ARN").as_deref(), Some("arn:aws:iam::1:user/x"));
        assert_eq!(e.user_name().as_deref(), Some("alice"));
        assert_eq!(e.actor().as_deref(), Some("alice"));
        assert!(!e.failed());
        assert!(e.is("iam.amazonaws.com", "CreateUser"));
        assert!(!e.is("organizations.amazonaws.com", "CreateUser"));
    }
}
