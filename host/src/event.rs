//! One CloudTrail record, parsed once by the host and shared (read-only) by every plugin.
//!
//! Parsing is cheap on purpose: the scalar fields plugins and routing need are read in one
//! pass (nested payloads are skipped). `field(path)` answers as a lookup in the record's full
//! JSON tree would, but without building the tree: it scans only the containers on the path
//! and parses only the value found (see `CloudTrailEvent::with_value`). Getter semantics
//! match the SDK's native event: a getter is `None` when the field is absent, null or not a
//! scalar; numbers and booleans come back as their JSON text.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
    /// Whether the whole record converts to a JSON tree, decided once without building it.
    convertible: OnceLock<Convertible>,
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
    // It is read as a lookup in the tree reads it (found by fuzzing, docs/fuzzing.md): only
    // objects have members (a derived struct would also take an array, by position), and a
    // repeated key's last value wins (a derived struct would reject the whole identity).
    fn object(raw: &str) -> Option<Members<'_>> {
        serde_json::from_str(raw).ok()
    }
    fn scalar(raw: &str) -> Option<String> {
        lenient(&mut serde_json::Deserializer::from_str(raw)).ok().flatten()
    }
    let Some(m) = object(raw.get()) else { return Identity::default() };
    let text = |key: &str| m.get(key).and_then(scalar);
    let session_issuer_arn = m
        .get("sessionContext")
        .and_then(object)
        .and_then(|s| s.get("sessionIssuer"))
        .and_then(object)
        .and_then(|i| i.get("arn"))
        .and_then(scalar);
    Identity {
        identity_type: text("type"),
        principal_id: text("principalId"),
        arn: text("arn"),
        account_id: text("accountId"),
        user_name: text("userName"),
        invoked_by: text("invokedBy"),
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
        // The common case: one pass reads the scalars and checks convertibility together.
        one_pass(trimmed).unwrap_or_else(|| Self::parse_general(trimmed))
    }

    /// The general path: the derived reader, the identity, then a convertibility walk.
    /// Slower (three passes), but it names every error precisely.
    fn parse_general(trimmed: &str) -> Result<Self, RecordError> {
        let w: WireRecord = serde_json::from_str(trimmed).map_err(|e| RecordError::Json(e.to_string()))?;
        let event_source = w.event_source.ok_or(RecordError::MissingField { field: "eventSource" })?;
        let event_name = w.event_name.ok_or(RecordError::MissingField { field: "eventName" })?;
        // A record whose JSON tree cannot be built (a number out of range, a lone surrogate
        // escape, nesting past 128 levels) would make every `field()` answer none and blind
        // the detectors: reject it by name instead (fuzz finding, docs/fuzzing.md).
        let convertible = OnceLock::new();
        match walk_to(trimmed, "\u{0}") {
            (Convertible::No, _) => {
                return Err(RecordError::Json(
                    "record holds a value no JSON tree can represent (a number out of range, a lone surrogate escape or nesting deeper than 128 levels)".into(),
                ))
            }
            (c, _) => {
                let _ = convertible.set(c);
            }
        }
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
            convertible,
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
        self.with_value(path, |v| match v {
            Value::Null => None,
            v => Some(v.to_string()),
        })
    }

    /// A scalar at a dotted path, as text.
    pub fn field_text(&self, path: &str) -> Option<String> {
        self.with_value(path, iam_tracker_plugin_sdk::event::scalar_text)
    }

    /// Apply `f` to the value at `path`, exactly as `lookup(self.tree()?, path)` would find
    /// it, without building the tree when it is not built yet.
    ///
    /// The tree (`serde_json::Value`) costs an allocation per string and map node, which
    /// made it the largest cost of an extractor call. Instead: a walk over the record with
    /// `serde_json::Value`'s own checks (numbers, escapes, depth) decides once whether the
    /// tree would exist (`parse` does it and rejects records that fail); then each call is
    /// one pass that skips what is off the path (a duplicate key's last value wins, as in a
    /// `Value` map) and parses only the value found. A record using serde_json's private
    /// tokens as a key, which `Value` treats specially, takes the tree path.
    fn with_value<T>(&self, path: &str, f: impl FnOnce(&Value) -> Option<T>) -> Option<T> {
        if let Some(tree) = self.tree.get() {
            return f(iam_tracker_plugin_sdk::event::lookup(tree.as_ref()?, path)?);
        }
        let found = match self.convertible.get() {
            Some(Convertible::Yes) => seek(&self.raw, path),
            Some(Convertible::No) => None,
            Some(Convertible::Special) => None,
            // First call on this event: one walk decides convertibility and finds the value.
            None => {
                let (convertible, found) = walk_to(&self.raw, path);
                let _ = self.convertible.set(convertible);
                found
            }
        };
        match self.convertible.get() {
            Some(Convertible::Yes) => f(&found?),
            Some(Convertible::Special) => f(iam_tracker_plugin_sdk::event::lookup(self.tree()?, path)?),
            _ => None,
        }
    }
}

/// Parse a record in one pass: the scalars, the identity and `Value`'s convertibility checks
/// ([`Walk`]) at once. `None` when the pass fails for any reason (bad JSON, a value no tree
/// can represent, a private token as a key); the caller then takes the general path, which
/// names the error precisely. A repeated key's last value wins, as in a `Value` map.
fn one_pass(raw: &str) -> Option<Result<CloudTrailEvent, RecordError>> {
    let special = Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(raw);
    let fields = RecordSeed(&special).deserialize(&mut de).and_then(|f| de.end().map(|()| f)).ok()?;
    let Some(event_source) = fields.event_source else {
        return Some(Err(RecordError::MissingField { field: "eventSource" }));
    };
    let Some(event_name) = fields.event_name else {
        return Some(Err(RecordError::MissingField { field: "eventName" }));
    };
    Some(Ok(CloudTrailEvent {
        raw: raw.into(),
        event_source,
        event_name,
        event_id: fields.event_id,
        event_time: fields.event_time,
        aws_region: fields.aws_region,
        source_ip_address: fields.source_ip_address,
        user_agent: fields.user_agent,
        error_code: fields.error_code,
        error_message: fields.error_message,
        recipient_account_id: fields.recipient_account_id,
        identity: fields.identity,
        tree: OnceLock::new(),
        convertible: OnceLock::from(Convertible::Yes),
    }))
}

/// The top-level fields [`one_pass`] reads.
#[derive(Default)]
struct RecordFields {
    event_source: Option<String>,
    event_name: Option<String>,
    event_id: Option<String>,
    event_time: Option<String>,
    aws_region: Option<String>,
    source_ip_address: Option<String>,
    user_agent: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    recipient_account_id: Option<String>,
    identity: Identity,
}

/// The next key of an object; the first one must not be one of serde_json's private tokens,
/// which `Value` treats specially (`special` is set and the walk stops).
fn checked_key<'de, A: MapAccess<'de>>(
    map: &mut A,
    first: &mut bool,
    special: &Cell<bool>,
) -> Result<Option<Key<'de>>, A::Error> {
    let key = map.next_key::<Key<'de>>()?;
    if let Some(k) = &key {
        if std::mem::take(first) && PRIVATE_TOKENS.contains(&k.0.as_ref()) {
            special.set(true);
            return Err(de::Error::custom("serde_json private token as a key"));
        }
    }
    Ok(key)
}

/// The whole record: an object whose members are read or walked.
#[derive(Clone, Copy)]
struct RecordSeed<'c>(&'c Cell<bool>);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = RecordFields;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RecordFields, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = RecordFields;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordFields, A::Error> {
        let mut out = RecordFields::default();
        let mut first = true;
        while let Some(key) = checked_key(&mut map, &mut first, self.0)? {
            let slot = match key.0.as_ref() {
                "eventSource" => &mut out.event_source,
                "eventName" => &mut out.event_name,
                "eventID" => &mut out.event_id,
                "eventTime" => &mut out.event_time,
                "awsRegion" => &mut out.aws_region,
                "sourceIPAddress" => &mut out.source_ip_address,
                "userAgent" => &mut out.user_agent,
                "errorCode" => &mut out.error_code,
                "errorMessage" => &mut out.error_message,
                "recipientAccountId" => &mut out.recipient_account_id,
                "userIdentity" => {
                    out.identity = map.next_value_seed(IdentitySeed(self.0))?;
                    continue;
                }
                _ => {
                    map.next_value_seed(Walk(self.0))?;
                    continue;
                }
            };
            *slot = map.next_value_seed(PathSeed { special: self.0, path: &[] })?;
        }
        Ok(out)
    }
}

/// `userIdentity`: its scalars when it is an object (anything else walks to the default).
#[derive(Clone, Copy)]
struct IdentitySeed<'c>(&'c Cell<bool>);

impl<'de> DeserializeSeed<'de> for IdentitySeed<'_> {
    type Value = Identity;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Identity, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IdentitySeed<'_> {
    type Value = Identity;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Identity, E> {
        Ok(Identity::default())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Identity, E> {
        Ok(Identity::default())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Identity, E> {
        Ok(Identity::default())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Identity, E> {
        Ok(Identity::default())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Identity, E> {
        Ok(Identity::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Identity, E> {
        Ok(Identity::default())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Identity, A::Error> {
        Walk(self.0).visit_seq(seq).map(|()| Identity::default())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Identity, A::Error> {
        let mut out = Identity::default();
        let mut first = true;
        while let Some(key) = checked_key(&mut map, &mut first, self.0)? {
            let (slot, path): (_, &[&str]) = match key.0.as_ref() {
                "type" => (&mut out.identity_type, &[]),
                "principalId" => (&mut out.principal_id, &[]),
                "arn" => (&mut out.arn, &[]),
                "accountId" => (&mut out.account_id, &[]),
                "userName" => (&mut out.user_name, &[]),
                "invokedBy" => (&mut out.invoked_by, &[]),
                "sessionContext" => (&mut out.session_issuer_arn, &["sessionIssuer", "arn"]),
                _ => {
                    map.next_value_seed(Walk(self.0))?;
                    continue;
                }
            };
            *slot = map.next_value_seed(PathSeed { special: self.0, path })?;
        }
        Ok(out)
    }
}

/// The scalar at a path of object keys below a value, with the getter semantics (text of a
/// string, number or boolean; `None` when absent, null, a container, or the path leads
/// nowhere). Everything else is walked with [`Walk`]'s checks.
#[derive(Clone, Copy)]
struct PathSeed<'c, 'p> {
    special: &'c Cell<bool>,
    path: &'p [&'p str],
}

impl<'de> DeserializeSeed<'de> for PathSeed<'_, '_> {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PathSeed<'_, '_> {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then(|| v.to_owned()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then(|| v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then(|| v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then(|| v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(self.path.is_empty().then(|| serde_json::Number::from_f64(v).map(|n| n.to_string())).flatten())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Walk(self.special).visit_seq(seq).map(|()| None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let [head, rest @ ..] = self.path else {
            return Walk(self.special).visit_map(map).map(|()| None);
        };
        let mut out = None;
        let mut first = true;
        while let Some(key) = checked_key(&mut map, &mut first, self.special)? {
            if key.0 == *head {
                out = map.next_value_seed(PathSeed { special: self.special, path: rest })?;
            } else {
                map.next_value_seed(Walk(self.special))?;
            }
        }
        Ok(out)
    }
}

/// Whether a record converts to a `serde_json::Value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Convertible {
    Yes,
    No,
    /// Uses a serde_json private token as a map's first key: convert to know.
    Special,
}

/// The keys `serde_json::Value` treats specially when they come first in a map.
const PRIVATE_TOKENS: [&str; 2] = ["$serde_json::private::RawValue", "$serde_json::private::Number"];

/// Walks a JSON document as `serde_json::Value`'s deserializer does (`deserialize_any` at
/// every level, so the same number, string-escape and recursion-depth checks apply), building
/// nothing. It stops, flagging `special`, at a map whose first key is a private token.
#[derive(Clone, Copy)]
struct Walk<'c>(&'c Cell<bool>);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut first = true;
        while checked_key(&mut map, &mut first, self.0)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// Whether a record converts to a `serde_json::Value`, decided by one walk over it with
/// `Value`'s checks ([`Walk`]), and the value at a dotted path picked up on the way (built
/// with `Value`'s own deserializer; a repeated key's last value wins, as in a `Value` map).
fn walk_to(raw: &str, path: &str) -> (Convertible, Option<Value>) {
    let special = Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(raw);
    match (Seek { path, special: &special, validate: true })
        .deserialize(&mut de)
        .and_then(|found| de.end().map(|()| found))
    {
        Ok(found) => (Convertible::Yes, found),
        Err(_) if special.get() => (Convertible::Special, None),
        Err(_) => (Convertible::No, None),
    }
}

/// The value at a dotted path of a record known to convert ([`Convertible::Yes`]), as a
/// lookup in its tree would find it: one pass that skips what is off the path and builds
/// only the value found (a repeated key's last value wins, as in a `Value` map).
fn seek(raw: &str, path: &str) -> Option<Value> {
    let special = Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(raw);
    (Seek { path, special: &special, validate: false }).deserialize(&mut de).ok().flatten()
}

/// [`Walk`], looking for the value at `path` on the way.
#[derive(Clone, Copy)]
struct Seek<'p, 'c> {
    path: &'p str,
    special: &'c Cell<bool>,
    /// Check what is off the path with `Value`'s checks ([`Walk`]), or just skip it.
    validate: bool,
}

impl<'p, 'c> Seek<'p, 'c> {
    /// Past one element off the path; `false` at the end of the sequence.
    fn skip_element<'de, A: SeqAccess<'de>>(self, seq: &mut A) -> Result<bool, A::Error> {
        Ok(if self.validate {
            seq.next_element_seed(Walk(self.special))?.is_some()
        } else {
            seq.next_element::<IgnoredAny>()?.is_some()
        })
    }

    /// Past one map value off the path.
    fn skip_value<'de, A: MapAccess<'de>>(self, map: &mut A) -> Result<(), A::Error> {
        if self.validate {
            map.next_value_seed(Walk(self.special))
        } else {
            map.next_value::<IgnoredAny>().map(|_| ())
        }
    }

    /// The segment to match here and the seek for what follows it (`None`: this is the target).
    fn split(self) -> (&'p str, Option<Seek<'p, 'c>>) {
        match self.path.split_once('.') {
            Some((seg, rest)) => (seg, Some(Seek { path: rest, ..self })),
            None => (self.path, None),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Seek<'_, '_> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

/// The member or element on the path: the target itself, or a container to seek in.
struct Step<'p, 'c>(Option<Seek<'p, 'c>>);

impl<'de> DeserializeSeed<'de> for Step<'_, '_> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        match self.0 {
            Some(seek) => seek.deserialize(d),
            None => Value::deserialize(d).map(Some),
        }
    }
}

impl<'de> Visitor<'de> for Seek<'_, '_> {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        let (seg, next) = self.split();
        let wanted = seg.parse::<usize>().ok();
        let mut found = None;
        let mut i = 0usize;
        loop {
            if Some(i) == wanted {
                match seq.next_element_seed(Step(next))? {
                    Some(v) => found = v,
                    None => break,
                }
            } else if !self.skip_element(&mut seq)? {
                break;
            }
            i += 1;
        }
        Ok(found)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let (seg, next) = self.split();
        let mut found = None;
        let mut first = true;
        while let Some(key) = checked_key(&mut map, &mut first, self.special)? {
            if key.0 == seg {
                found = map.next_value_seed(Step(next))?;
            } else {
                self.skip_value(&mut map)?;
            }
        }
        Ok(found)
    }
}

/// A JSON object's members in order, values unparsed; keys borrowed unless escaped.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    /// The value of `key`; the last one when the key repeats (as in a `Value` map).
    fn get(&self, key: &str) -> Option<&'a str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.get())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    out.push((key.0, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A map key, borrowed from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything `parse` exposes, for comparing the two paths.
    fn facts(ev: &CloudTrailEvent) -> Vec<Option<String>> {
        let i = &ev.identity;
        vec![
            Some(ev.event_source.clone()),
            Some(ev.event_name.clone()),
            ev.event_id.clone(),
            ev.event_time.clone(),
            ev.aws_region.clone(),
            ev.source_ip_address.clone(),
            ev.user_agent.clone(),
            ev.error_code.clone(),
            ev.error_message.clone(),
            ev.recipient_account_id.clone(),
            i.identity_type.clone(),
            i.principal_id.clone(),
            i.arn.clone(),
            i.account_id.clone(),
            i.user_name.clone(),
            i.invoked_by.clone(),
            i.session_issuer_arn.clone(),
            ev.field("requestParameters"),
            ev.field("userIdentity.sessionContext.sessionIssuer.userName"),
        ]
    }

    #[test]
    fn one_pass_agrees_with_the_general_path() {
        let records = [
            r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventID":"e1","eventTime":"2024-05-01T12:00:00Z","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli","recipientAccountId":123456789012,"userIdentity":{"type":"AssumedRole","principalId":"AROA:s","arn":"arn:aws:sts::1:assumed-role/R/s","accountId":"1","invokedBy":null,"sessionContext":{"attributes":{"mfaAuthenticated":"false"},"sessionIssuer":{"type":"Role","userName":"R","arn":"arn:aws:iam::1:role/R"}}},"requestParameters":{"userName":"bob"},"errorCode":null,"errorMessage":{"x":1}}"#,
            r#"{"eventSource":"s","eventName":"n","userIdentity":[1,2,{"type":"x"}],"eventTime":12.5,"awsRegion":true}"#,
            r#"{"eventSource":"s","eventName":"n","userIdentity":{"type":"A","type":"B","sessionContext":{"sessionIssuer":{"arn":"a"}},"sessionContext":{"sessionIssuer":"str"}}}"#,
            r#"{"eventSource":"s","eventName":"n","userIdentity":{"sessionContext":{"sessionIssuer":{"arn":"a","arn":{"deep":[1]}}}}}"#,
            r#"{"eventSource":"s","eventName":"n","userIdentity":{"sessionContext":{"sessionIssuer":{"arn":7}}}}"#,
            r#"{"eventSource":"s","eventName":"n","userIdentity":"Root","requestParameters":{"a":[{"b":"\u00e9\n"}]}}"#,
            r#"{"eventSource":"s","eventName":"n","userIdentity":{"userName":"\ud83d\ude00"}}"#,
            r#"{"eventName":"n"}"#,
            r#"{"eventSource":["s"],"eventName":"n"}"#,
        ];
        for raw in records {
            let fast = one_pass(raw).map(|r| r.map(|e| facts(&e)));
            let general = CloudTrailEvent::parse_general(raw).map(|e| facts(&e));
            assert_eq!(fast, Some(general), "{raw}");
        }
        // Left to the general path, which names the error: bad JSON, values no tree holds,
        // serde_json's private tokens as keys.
        for raw in [
            r#"{"eventSource":"s","eventName":"n","x":1e999}"#,
            r#"{"eventSource":"s","eventName":"n","userIdentity":{"userName":"\ud800"}}"#,
            r#"{"eventSource":"s","eventName":"n""#,
            r#"{"$serde_json::private::RawValue":"1","eventSource":"s","eventName":"n"}"#,
            r#"{"eventSource":"s","eventName":"n","u":{"$serde_json::private::Number":"1"}}"#,
        ] {
            assert!(one_pass(raw).is_none(), "{raw}");
        }
    }

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

    /// What `field` and `field_text` answered before: a lookup in the whole tree.
    fn tree_answers(raw: &str, path: &str) -> (Option<String>, Option<String>) {
        use iam_tracker_plugin_sdk::event::{lookup, scalar_text};
        let tree: Option<Value> = serde_json::from_str(raw).ok();
        let v = tree.as_ref().and_then(|t| lookup(t, path));
        (v.filter(|v| !v.is_null()).map(Value::to_string), v.and_then(scalar_text))
    }

    fn all_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
        let children: Vec<(String, &Value)> = match v {
            Value::Object(m) => m.iter().map(|(k, c)| (k.clone(), c)).collect(),
            Value::Array(a) => a.iter().enumerate().map(|(i, c)| (i.to_string(), c)).collect(),
            _ => return,
        };
        for (k, c) in children {
            let p = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
            out.push(p.clone());
            all_paths(c, &p, out);
        }
    }

    #[test]
    fn field_answers_as_a_lookup_in_the_whole_tree() {
        let deep = format!(
            r#"{{"eventSource":"s","eventName":"n","userIdentity":{{"type":"Root"}},"x":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let huge = format!(r#"{{"eventSource":"s","eventName":"n","x":{{"y":{}}},"z":"ok"}}"#, "9".repeat(400));
        let records = [
            r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROA:s",
               "arn":"arn:aws:sts::1:assumed-role/r/s","sessionContext":{"sessionIssuer":{"type":"Role","userName":"r",
               "arn":"arn:aws:iam::1:role/r"},"webIdFederationData":{},"attributes":{"mfaAuthenticated":"false"}}},
               "eventSource":"sts.amazonaws.com","eventName":"AssumeRole","requestParameters":{"roleArn":"arn:aws:iam::2:role/x",
               "durationSeconds":3600,"tags":[{"key":"a","value":"b"},[1,[2,null]],true,-7,1.5,1.0e2,1E-3,
               18446744073709551615,18446744073709551616,-9223372036854775809]},"responseElements":null,"resources":[],
               "readOnly":false,"k\u0065y":"escaped key","a.b":{"c":1},"":{"":"empty"},"dup":{"x":1},"dup":"second",
               "text":"q\"uote\\ \u00e9 \ud83d\ude00 \n\/","nested":{"dup":[1],"dup":{"y":2}},"obj":{} , "arr" : [ ] }"#,
            r#"{"eventSource":"s","eventName":"n","userIdentity":{"type":"Root"},"requestParameters":{"n":1e400}}"#,
            r#"{"eventSource":"s","eventName":"n","userIdentity":{"type":"Root"},"x":{"y":"\ud800"}}"#,
            r#"{"eventSource":"s","eventName":"n","x":{"$serde_json::private::RawValue":"{\"a\":[1,2]}"},"y":{"z":1}}"#,
            r#"{"eventSource":"s","eventName":"n","x":{"$serde_json::private::RawValue":5},"y":1}"#,
            r#"{"eventSource":"s","eventName":"n","x":{"a":1,"$serde_json::private::RawValue":2}}"#,
            r#"{"eventSource":"s","eventName":"n","x":{"$serde_json::private::Number":"12"}}"#,
            r#"{"event\u0053ource":"s","eventName":"n","x":[{"y":[null,{"z":"deep"}]}]}"#,
            &deep,
            &huge,
        ];
        let extra = [
            "nope",
            "nope.deeper",
            "",
            "a..b",
            "userIdentity.type.x",
            "requestParameters.tags.99",
            "requestParameters.tags.+1",
            "requestParameters.tags.01",
            "requestParameters.tags.-1",
            "requestParameters.tags.1.1.0",
            "dup",
            "dup.x",
            "nested.dup.y",
            "nested.dup.0",
            "x.a",
            "x.a.1",
            "x.y",
            "x.y.z",
            "x.0.y.1.z",
            "y.z",
            "z",
        ];
        use Convertible::{No, Special, Yes};
        let expected = [Yes, No, No, Special, Special, Yes, Special, Yes, No, No];
        for (raw, want) in records.iter().zip(expected) {
            assert_eq!(walk_to(raw.trim(), "nope").0, want, "{raw}");
            // Records no JSON tree can represent are rejected by name, not accepted blind.
            let parsed = CloudTrailEvent::parse(raw);
            assert_eq!(want == No, matches!(parsed, Err(RecordError::Json(_))), "{raw}");
        }
        for raw in records.iter().zip(expected).filter(|(_, w)| *w != No).map(|(r, _)| *r) {
            let mut paths: Vec<String> = extra.iter().map(|p| p.to_string()).collect();
            if let Ok(tree) = serde_json::from_str::<Value>(raw) {
                all_paths(&tree, "", &mut paths);
            }
            // Each path as the first call on a fresh event (one walk), then all of them on
            // one event (later calls scan to the value), in both orders of the two getters.
            let shared = CloudTrailEvent::parse(raw).expect("valid record");
            for path in &paths {
                let want = tree_answers(raw, path);
                let ev = CloudTrailEvent::parse(raw).expect("valid record");
                assert_eq!((ev.field(path), ev.field_text(path)), want, "first call, path {path:?} in {raw}");
                let ev = CloudTrailEvent::parse(raw).expect("valid record");
                let text = ev.field_text(path);
                assert_eq!((ev.field(path), text), want, "first call (text), path {path:?} in {raw}");
                assert_eq!((shared.field(path), shared.field_text(path)), want, "later call, path {path:?} in {raw}");
                if shared.convertible.get() == Some(&Convertible::Yes) {
                    assert!(shared.tree.get().is_none(), "the tree is not built for {path:?}");
                }
            }
        }
    }

    #[test]
    fn identity_getters_read_like_the_tree() {
        // Found by fuzzing: an array userIdentity was read by position, and a repeated key
        // dropped the whole identity; the tree (and the SDK's native event) says otherwise.
        let ev = CloudTrailEvent::parse(r#"{"eventSource":"s","eventName":"n","userIdentity":[["x"],0,"arn"]}"#)
            .expect("ok");
        assert_eq!(ev.identity, Identity::default());
        let ev = CloudTrailEvent::parse(
            r#"{"eventSource":"s","eventName":"n","userIdentity":{"type":"IAMUser","type":"Root","principalId":7,
               "sessionContext":{"sessionIssuer":{"arn":"a"}},"sessionContext":{"sessionIssuer":{"arn":"b","arn":"c"}}}}"#,
        )
        .expect("ok");
        assert_eq!(ev.identity.identity_type, ev.field_text("userIdentity.type"));
        assert_eq!(ev.identity.identity_type.as_deref(), Some("Root"));
        assert_eq!(ev.identity.principal_id.as_deref(), Some("7"));
        assert_eq!(ev.identity.session_issuer_arn.as_deref(), Some("c"));
        let ev = CloudTrailEvent::parse(
            r#"{"eventSource":"s","eventName":"n","userIdentity":{"type":"Root","sessionContext":{"sessionIssuer":[1]}}}"#,
        )
        .expect("ok");
        assert_eq!(ev.identity.session_issuer_arn, None);
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
