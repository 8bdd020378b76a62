//! The per-region event store behind LookupEvents: records indexed newest first, the lookup
//! attributes the real API supports, and the opaque `NextToken` cursor.
//!
//! Pagination is a snapshot: every stored event gets an insertion sequence number, the first page
//! of a query records the highest number it could see, and later pages of that query only return
//! events at or below it and strictly older (by `(EventTime, EventId)`) than the last one returned.
//! So events added between pages (late arrivals) never shift, duplicate or skip entries of a
//! running pagination, and the next fresh query sees them.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;

use crate::time::parse_iso8601;

/// One stored event, with the LookupEvents fields derived from its record.
#[derive(Debug)]
pub struct StoredEvent {
    /// `eventID` of the record.
    pub id: String,
    /// `eventName`.
    pub name: Option<String>,
    /// `eventSource`.
    pub source: Option<String>,
    /// `eventTime`, in microseconds since the epoch.
    pub time_us: i64,
    /// `userIdentity.userName`, else the last segment of `userIdentity.arn`.
    pub username: Option<String>,
    /// `readOnly` as the string LookupEvents returns (`"true"` / `"false"`).
    pub read_only: Option<String>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: Option<String>,
    /// The record as JSON text: LookupEvents' `CloudTrailEvent`.
    pub record_json: String,
    /// Insertion sequence number (global, increasing).
    pub seq: u64,
}

/// Why a record could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The text is not JSON.
    #[error("record is not JSON: {0}")]
    Json(String),
    /// The record is not a JSON object.
    #[error("a CloudTrail record must be a JSON object")]
    NotAnObject,
    /// `eventTime` is missing or not a string.
    #[error("record has no eventTime string")]
    MissingEventTime,
    /// `eventTime` is not an ISO-8601 instant.
    #[error("record eventTime {0:?} is not an ISO-8601 instant")]
    BadEventTime(String),
}

/// A LookupAttributes key, as the real API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKey {
    /// `EventId`
    EventId,
    /// `EventName`
    EventName,
    /// `ReadOnly`
    ReadOnly,
    /// `Username`
    Username,
    /// `ResourceType` (never matches: the server keeps no resources)
    ResourceType,
    /// `ResourceName` (never matches: the server keeps no resources)
    ResourceName,
    /// `EventSource`
    EventSource,
    /// `AccessKeyId`
    AccessKeyId,
}

impl AttributeKey {
    /// Parses the wire name; `None` for anything the real API would reject.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "EventId" => Self::EventId,
            "EventName" => Self::EventName,
            "ReadOnly" => Self::ReadOnly,
            "Username" => Self::Username,
            "ResourceType" => Self::ResourceType,
            "ResourceName" => Self::ResourceName,
            "EventSource" => Self::EventSource,
            "AccessKeyId" => Self::AccessKeyId,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::EventId => "EventId",
            Self::EventName => "EventName",
            Self::ReadOnly => "ReadOnly",
            Self::Username => "Username",
            Self::ResourceType => "ResourceType",
            Self::ResourceName => "ResourceName",
            Self::EventSource => "EventSource",
            Self::AccessKeyId => "AccessKeyId",
        }
    }
}

/// The parts of a LookupEvents request that select events (everything but paging).
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// At most one lookup attribute.
    pub attribute: Option<(AttributeKey, String)>,
    /// Inclusive lower bound, microseconds.
    pub start_us: Option<i64>,
    /// Inclusive upper bound, microseconds.
    pub end_us: Option<i64>,
}

impl Query {
    fn matches(&self, e: &StoredEvent) -> bool {
        let Some((key, value)) = &self.attribute else { return true };
        let field = match key {
            AttributeKey::EventId => Some(&e.id),
            AttributeKey::EventName => e.name.as_ref(),
            AttributeKey::ReadOnly => e.read_only.as_ref(),
            AttributeKey::Username => e.username.as_ref(),
            AttributeKey::EventSource => e.source.as_ref(),
            AttributeKey::AccessKeyId => e.access_key_id.as_ref(),
            AttributeKey::ResourceType | AttributeKey::ResourceName => None,
        };
        field == Some(value)
    }

    /// A stable 64-bit FNV-1a hash of the region and the query, bound into every NextToken.
    pub fn hash(&self, region: &str) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            h ^= 0xff;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        };
        feed(region.as_bytes());
        match &self.attribute {
            Some((k, v)) => {
                feed(k.as_str().as_bytes());
                feed(v.as_bytes());
            }
            None => feed(b"-"),
        }
        feed(self.start_us.map_or_else(|| "-".to_owned(), |t| t.to_string()).as_bytes());
        feed(self.end_us.map_or_else(|| "-".to_owned(), |t| t.to_string()).as_bytes());
        h
    }
}

/// Where the next page of a query starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    /// EventTime of the last event returned.
    pub time_us: i64,
    /// EventId of the last event returned.
    pub id: String,
    /// Highest insertion sequence number the pagination may return.
    pub as_of: u64,
}

impl PageCursor {
    /// Encodes the cursor with the query hash as an opaque token.
    pub fn to_token(&self, query_hash: u64) -> String {
        let raw = format!("v1:{query_hash:016x}:{}:{}:{}", self.time_us, self.as_of, self.id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Decodes a token; `None` if it is malformed or was made for another query.
    pub fn from_token(token: &str, query_hash: u64) -> Option<Self> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let mut parts = raw.splitn(5, ':');
        if parts.next()? != "v1" {
            return None;
        }
        if u64::from_str_radix(parts.next()?, 16).ok()? != query_hash {
            return None;
        }
        let time_us = parts.next()?.parse().ok()?;
        let as_of = parts.next()?.parse().ok()?;
        let id = parts.next()?.to_owned();
        Some(Self { time_us, id, as_of })
    }
}

/// One region's events, ordered by `(time, id)`.
#[derive(Debug, Default)]
struct RegionEvents {
    by_key: BTreeMap<(i64, String), Arc<StoredEvent>>,
    time_of_id: HashMap<String, i64>,
}

/// All regions' events.
#[derive(Debug, Default)]
pub struct Store {
    regions: HashMap<String, RegionEvents>,
    next_seq: u64,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// The LookupEvents `Username` of a record: `userIdentity.userName`, else the last `/` (or `:`)
/// segment of `userIdentity.arn` (`root` for a root ARN, the session name for an assumed role).
pub fn derive_username(record: &Value) -> Option<String> {
    if let Some(name) = str_at(record, &["userIdentity", "userName"]).filter(|s| !s.is_empty()) {
        return Some(name.to_owned());
    }
    let arn = str_at(record, &["userIdentity", "arn"])?;
    let last = match arn.rsplit_once('/') {
        Some((_, tail)) => tail,
        None => arn.rsplit_once(':').map_or(arn, |(_, tail)| tail),
    };
    (!last.is_empty()).then(|| last.to_owned())
}

impl Store {
    /// Stores (or replaces, by `eventID` within the region) one record. A record without an
    /// `eventID` gets a generated one, written into the record too. `raw`, when given, is the
    /// record's original JSON text and becomes `CloudTrailEvent` as is (key order and spacing kept)
    /// unless an `eventID` had to be added. Returns the EventId.
    pub fn add(&mut self, region: &str, mut record: Value, raw: Option<&str>) -> Result<String, SeedError> {
        let obj = record.as_object_mut().ok_or(SeedError::NotAnObject)?;
        let time_str = obj.get("eventTime").and_then(Value::as_str).ok_or(SeedError::MissingEventTime)?;
        let time_us = parse_iso8601(time_str).ok_or_else(|| SeedError::BadEventTime(time_str.to_owned()))?;
        self.next_seq += 1;
        let seq = self.next_seq;
        let mut raw = raw.map(str::trim);
        let id = match obj.get("eventID").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => {
                let id = format!("00000000-0000-4000-8000-{seq:012x}");
                obj.insert("eventID".to_owned(), Value::String(id.clone()));
                raw = None;
                id
            }
        };
        let read_only = match obj.get("readOnly") {
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(Value::String(s)) => Some(s.to_ascii_lowercase()),
            _ => None,
        };
        let event = StoredEvent {
            name: str_at(&record, &["eventName"]).map(str::to_owned),
            source: str_at(&record, &["eventSource"]).map(str::to_owned),
            username: derive_username(&record),
            access_key_id: str_at(&record, &["userIdentity", "accessKeyId"]).map(str::to_owned),
            read_only,
            record_json: raw.map_or_else(|| record.to_string(), str::to_owned),
            id: id.clone(),
            time_us,
            seq,
        };
        let events = self.regions.entry(region.to_owned()).or_default();
        if let Some(old_time) = events.time_of_id.insert(id.clone(), time_us) {
            events.by_key.remove(&(old_time, id.clone()));
        }
        events.by_key.insert((time_us, id.clone()), Arc::new(event));
        Ok(id)
    }

    /// The highest insertion sequence number so far (a new pagination's snapshot point).
    pub fn current_seq(&self) -> u64 {
        self.next_seq
    }

    /// Number of events stored for a region.
    pub fn len(&self, region: &str) -> usize {
        self.regions.get(region).map_or(0, |r| r.by_key.len())
    }

    /// Regions that have events, sorted.
    pub fn regions(&self) -> Vec<String> {
        let mut v: Vec<String> = self.regions.keys().cloned().collect();
        v.sort();
        v
    }

    /// Removes a region's events (`None`: every region's).
    pub fn clear(&mut self, region: Option<&str>) {
        match region {
            Some(r) => {
                self.regions.remove(r);
            }
            None => self.regions.clear(),
        }
    }

    /// One page of a query: up to `max` events newest first, and the cursor for the next page
    /// when at least one more event matches.
    pub fn page(
        &self,
        region: &str,
        query: &Query,
        max: usize,
        cursor: Option<&PageCursor>,
    ) -> (Vec<Arc<StoredEvent>>, Option<PageCursor>) {
        let as_of = cursor.map_or(self.next_seq, |c| c.as_of);
        let Some(events) = self.regions.get(region) else { return (Vec::new(), None) };
        // Exclusive upper bound: just past EndTime (inclusive), or the cursor, whichever is lower.
        let mut upper: Option<(i64, String)> = query.end_us.map(|end| (end.saturating_add(1), String::new()));
        if let Some(c) = cursor {
            let ck = (c.time_us, c.id.clone());
            if upper.as_ref().is_none_or(|u| ck < *u) {
                upper = Some(ck);
            }
        }
        let range = match &upper {
            Some(u) => events.by_key.range((Bound::Unbounded, Bound::Excluded(u.clone()))),
            None => events.by_key.range::<(i64, String), _>(..),
        };
        let mut out = Vec::with_capacity(max.min(64));
        let mut more = false;
        for ((time_us, _), e) in range.rev() {
            if query.start_us.is_some_and(|s| *time_us < s) {
                break;
            }
            if e.seq > as_of || !query.matches(e) {
                continue;
            }
            if out.len() == max {
                more = true;
                break;
            }
            out.push(Arc::clone(e));
        }
        let next = match (more, out.last()) {
            (true, Some(last)) => Some(PageCursor { time_us: last.time_us, id: last.id.clone(), as_of }),
            _ => None,
        };
        (out, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(id: &str, t: &str, name: &str) -> Value {
        json!({"eventID": id, "eventTime": t, "eventName": name, "eventSource": "iam.amazonaws.com",
               "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/R/sess"}})
    }

    #[test]
    fn pages_newest_first_with_snapshot() {
        let mut s = Store::default();
        for i in 0..5 {
            s.add("r", rec(&format!("e{i}"), &format!("2024-01-01T00:00:0{i}Z"), "X"), None).expect("add");
        }
        s.add("r", rec("e2b", "2024-01-01T00:00:02Z", "X"), None).expect("add");
        let q = Query::default();
        let (p1, c1) = s.page("r", &q, 2, None);
        assert_eq!(p1.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e4", "e3"]);
        let c1 = c1.expect("more");
        let tok = c1.to_token(q.hash("r"));
        assert_eq!(PageCursor::from_token(&tok, q.hash("r")).as_ref(), Some(&c1));
        assert_eq!(PageCursor::from_token(&tok, q.hash("other")), None);
        // A late event, older than the cursor, arrives between pages: not in this pagination.
        s.add("r", rec("late", "2024-01-01T00:00:01Z", "X"), None).expect("add");
        let (p2, c2) = s.page("r", &q, 2, Some(&c1));
        assert_eq!(p2.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e2b", "e2"]);
        let (p3, c3) = s.page("r", &q, 2, c2.as_ref());
        assert_eq!(p3.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e1", "e0"]);
        assert!(c3.is_none());
        let (all, _) = s.page("r", &q, 50, None);
        assert_eq!(all.len(), 7);
        assert_eq!(all[4].username.as_deref(), Some("sess"));
    }

    #[test]
    fn raw_text_is_kept_unless_an_id_is_added() {
        let mut s = Store::default();
        let raw = r#" {"eventTime": "2024-01-01T00:00:00Z",  "eventID": "x"} "#;
        let v: Value = serde_json::from_str(raw).expect("json");
        s.add("r", v, Some(raw)).expect("add");
        let raw2 = r#"{"eventTime": "2024-01-01T00:00:00Z"}"#;
        let id = s.add("r", serde_json::from_str(raw2).expect("json"), Some(raw2)).expect("add");
        let (page, _) = s.page("r", &Query::default(), 50, None);
        assert_eq!(page[0].record_json, raw.trim(), "same time: EventId \"x\" sorts first");
        assert_eq!(page[1].id, id);
        // Re-serialized with the id added. Key order depends on serde_json's `preserve_order`
        // feature, which other crates in a workspace build may turn on: compare values.
        let got: Value = serde_json::from_str(&page[1].record_json).expect("json");
        assert_eq!(got, serde_json::json!({"eventID": id, "eventTime": "2024-01-01T00:00:00Z"}));
        assert_ne!(page[1].record_json, raw2, "the text was rewritten");
    }

    #[test]
    fn usernames() {
        assert_eq!(
            derive_username(&json!({"userIdentity": {"userName": "alice", "arn": "x/y"}})).as_deref(),
            Some("alice")
        );
        assert_eq!(
            derive_username(&json!({"userIdentity": {"arn": "arn:aws:iam::123456789012:root"}})).as_deref(),
            Some("root")
        );
        assert_eq!(derive_username(&json!({"userIdentity": {"type": "AWSService"}})), None);
    }
}
