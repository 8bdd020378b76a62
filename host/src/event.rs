//! One CloudTrail record, parsed once by the host and shared (read-only) by every plugin.
//!
//! Parsing is cheap on purpose: the scalar fields plugins and routing need are read in one
//! pass (nested payloads are skipped); the full JSON tree is built lazily, only when a
//! plugin asks for `field(path)`. Getter semantics match the SDK's native event: a getter is
//! `None` when the field is absent, null or not a scalar; numbers and booleans come back as
//! their JSON text.

use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// Records larger than this are rejected (CloudTrail's own limit is far below).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 512 * 1024;

/// Why a record cannot be used. Messages are lowercase and name the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record is {kind}, not a JSON object")]
    NotAnObject { kind: &'static str },
    #[error("record has no {field} (or it is not a string)")]
    MissingField { field: &'static str },
    #[error("record is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("record is not valid JSON: {0}")]
    Json(String),
}

/// A parsed CloudTrail record.
#[derive(Debug)]
pub struct CloudTrailEvent {
    raw: Box<str>,
    pub event_source: String,
    pub event_name: String,
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    pub aws_region: Option<String>,
    pub source_ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub recipient_account_id: Option<String>,
    pub identity: Identity,
    tree: OnceLock<Option<Value>>,
}

/// The `userIdentity` scalars.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Identity {
    pub identity_type: Option<String>,
    pub principal_id: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub user_name: Option<String>,
    pub invoked_by: Option<String>,
    pub session_issuer_arn: Option<String>,
}

/// Deserialize any JSON value into the getter semantics (scalar text or `None`).
fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(serde_json::Number::from_f64(v).map(|n| n.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

#[derive(Deserialize)]
struct WireRecord<'a> {
    #[serde(rename = "eventSource", default, deserialize_with = "lenient")]
    event_source: Option<String>,
    #[serde(rename = "eventName", default, deserialize_with = "lenient")]
    event_name: Option<String>,
    #[serde(rename = "eventID", default, deserialize_with = "lenient")]
    event_id: Option<String>,
    #[serde(rename = "eventTime", default, deserialize_with = "lenient")]
    event_time: Option<String>,
    #[serde(rename = "awsRegion", default, deserialize_with = "lenient")]
    aws_region: Option<String>,
    #[serde(rename = "sourceIPAddress", default, deserialize_with = "lenient")]
    source_ip_address: Option<String>,
    #[serde(rename = "userAgent", default, deserialize_with = "lenient")]
    user_agent: Option<String>,
    #[serde(rename = "errorCode", default, deserialize_with = "lenient")]
    error_code: Option<String>,
    #[serde(rename = "errorMessage", default, deserialize_with = "lenient")]
    error_message: Option<String>,
    #[serde(rename = "recipientAccountId", default, deserialize_with = "lenient")]
    recipient_account_id: Option<String>,
    #[serde(rename = "userIdentity", default, borrow)]
    user_identity: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct WireIdentity<'a> {
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    identity_type: Option<String>,
    #[serde(rename = "principalId", default, deserialize_with = "lenient")]
    principal_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    arn: Option<String>,
    #[serde(rename = "accountId", default, deserialize_with = "lenient")]
    account_id: Option<String>,
    #[serde(rename = "userName", default, deserialize_with = "lenient")]
    user_name: Option<String>,
    #[serde(rename = "invokedBy", default, deserialize_with = "lenient")]
    invoked_by: Option<String>,
    #[serde(rename = "sessionContext", default, borrow)]
    session_context: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireSession<'a> {
    #[serde(rename = "sessionIssuer", default, borrow)]
    session_issuer: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireIssuer {
    #[serde(default, deserialize_with = "lenient")]
    arn: Option<String>,
}

fn json_kind(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn parse_identity(raw: &RawValue) -> Identity {
    // A userIdentity of an unexpected shape is not fatal: the getters just return `None`.
    let Ok(w) = serde_json::from_str::<WireIdentity>(raw.get()) else { return Identity::default() };
    let session_issuer_arn = w
        .session_context
        .and_then(|s| serde_json::from_str::<WireSession>(s.get()).ok())
        .and_then(|s| s.session_issuer)
        .and_then(|i| serde_json::from_str::<WireIssuer>(i.get()).ok())
        .and_then(|i| i.arn);
    Identity {
        identity_type: w.identity_type,
        principal_id: w.principal_id,
        arn: w.arn,
        account_id: w.account_id,
        user_name: w.user_name,
        invoked_by: w.invoked_by,
        session_issuer_arn,
    }
}

impl CloudTrailEvent {
    /// Parse one record with the default size limit.
    pub fn parse(text: &str) -> Result<Self, RecordError> {
        Self::parse_with_limit(text, DEFAULT_MAX_RECORD_BYTES)
    }

    /// Parse one record; `eventSource` and `eventName` must be strings.
    pub fn parse_with_limit(text: &str, max_bytes: usize) -> Result<Self, RecordError> {
        if text.len() > max_bytes {
            return Err(RecordError::TooLarge { size: text.len(), limit: max_bytes });
        }
        let trimmed = text.trim();
        if !trimmed.starts_with('{') {
            if serde_json::from_str::<IgnoredAny>(trimmed).is_err() {
                return Err(RecordError::Json(
                    serde_json::from_str::<IgnoredAny>(trimmed).err().map(|e| e.to_string()).unwrap_or_default(),
                ));
            }
            return Err(RecordError::NotAnObject { kind: json_kind(trimmed) });
        }
        let w: WireRecord = serde_json::from_str(trimmed).map_err(|e| RecordError::Json(e.to_string()))?;
        let event_source = w.event_source.ok_or(RecordError::MissingField { field: "eventSource" })?;
        let event_name = w.event_name.ok_or(RecordError::MissingField { field: "eventName" })?;
        Ok(CloudTrailEvent {
            raw: trimmed.into(),
            event_source,
            event_name,
            event_id: w.event_id,
            event_time: w.event_time,
            aws_region: w.aws_region,
            source_ip_address: w.source_ip_address,
            user_agent: w.user_agent,
            error_code: w.error_code,
            error_message: w.error_message,
            recipient_account_id: w.recipient_account_id,
            identity: w.user_identity.map(parse_identity).unwrap_or_default(),
            tree: OnceLock::new(),
        })
    }

    /// The record as received.
    pub fn raw_json(&self) -> &str {
        &self.raw
    }

    /// The whole record as a JSON tree (parsed on first use).
    pub fn tree(&self) -> Option<&Value> {
        self.tree.get_or_init(|| serde_json::from_str(&self.raw).ok()).as_ref()
    }

    /// JSON text of the value at a dotted path; `None` when absent or null.
    pub fn field(&self, path: &str) -> Option<String> {
        match iam_tracker_plugin_sdk::event::lookup(self.tree()?, path)? {
            Value::Null => None,
            v => Some(v.to_string()),
        }
    }

    /// A scalar at a dotted path, as text.
    pub fn field_text(&self, path: &str) -> Option<String> {
        iam_tracker_plugin_sdk::event::lookup(self.tree()?, path).and_then(iam_tracker_plugin_sdk::event::scalar_text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scalars_leniently() {
        let ev = CloudTrailEvent::parse(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","recipientAccountId":123456789012,
               "userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/x"}}},
               "requestParameters":{"userName":"bob","tags":[1,2]},"errorCode":null}"#,
        )
        .expect("valid record");
        assert_eq!(ev.recipient_account_id.as_deref(), Some("123456789012"));
        assert_eq!(ev.identity.identity_type.as_deref(), Some("AssumedRole"));
        assert_eq!(ev.identity.session_issuer_arn.as_deref(), Some("arn:aws:iam::1:role/x"));
        assert_eq!(ev.error_code, None);
        assert_eq!(ev.field("requestParameters.userName").as_deref(), Some("\"bob\""));
        assert_eq!(ev.field("requestParameters.tags.1").as_deref(), Some("2"));
        assert_eq!(ev.field("errorCode"), None);
        assert_eq!(ev.field("nope.deeper"), None);
    }

    #[test]
    fn odd_identity_shapes_are_not_fatal() {
        let ev = CloudTrailEvent::parse(r#"{"eventSource":"s","eventName":"n","userIdentity":"weird"}"#).expect("ok");
        assert_eq!(ev.identity, Identity::default());
        let ev = CloudTrailEvent::parse(
            r#"{"eventSource":"s","eventName":"n","userIdentity":{"type":"Root","sessionContext":[1]}}"#,
        )
        .expect("ok");
        assert_eq!(ev.identity.identity_type.as_deref(), Some("Root"));
    }

    #[test]
    fn rejections_name_the_problem() {
        assert_eq!(CloudTrailEvent::parse("[1]").err(), Some(RecordError::NotAnObject { kind: "an array" }));
        assert_eq!(
            CloudTrailEvent::parse(r#"{"eventName":"x"}"#).err(),
            Some(RecordError::MissingField { field: "eventSource" })
        );
        assert_eq!(
            CloudTrailEvent::parse(r#"{"eventSource":7,"eventName":{}}"#).err(),
            Some(RecordError::MissingField { field: "eventName" })
        );
        let big = format!(r#"{{"eventSource":"s","eventName":"n","x":"{}"}}"#, "a".repeat(600 * 1024));
        assert!(matches!(CloudTrailEvent::parse(&big), Err(RecordError::TooLarge { .. })));
        assert!(matches!(CloudTrailEvent::parse("{bad"), Err(RecordError::Json(_))));
    }
}
