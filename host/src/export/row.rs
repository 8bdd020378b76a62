//! One exported row: a [`StoredEvent`] turned into the values of the table's columns
//! ([`super::schema::COLUMNS`]), with the columns the original derived from the request and
//! response payloads.
//!
//! Pure: no I/O. The raw record is read once, with the two payloads borrowed as raw JSON
//! text (`requestParameters`, `responseElements`); only the handful of fields the derived
//! columns need are parsed out of them, the rest is skipped without building a tree.
//!
//! Differences from the original (seed-original §7.3): absent values are nulls, not `''` or
//! `'{}'`; `is_error` is true only for a present, non-empty `errorCode`; `event_time` is a
//! real instant (UTC milliseconds) and `event_date` a real date. A derived value that is not
//! a string in the record (a number, an object) is kept as its JSON text rather than dropped.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::store::StoredEvent;
use crate::timefmt;

/// Why a stored event cannot become a row. The event is skipped, counted and named in the
/// export summary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("event {event_id} of {date}: event_time `{time}` is not a time")]
    BadTime { date: String, event_id: String, time: String },
    #[error("event {event_id}: event_date `{date}` is not a date (YYYY-MM-DD)")]
    BadDate { date: String, event_id: String },
}

/// The values of one row, in the shape the writer appends them. Field names are the
/// column names of [`super::schema::COLUMNS`] (a unit test keeps them in step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    pub event_id: &'a str,
    /// Days since 1970-01-01 (Parquet DATE).
    pub event_date: i32,
    /// Milliseconds since the epoch, UTC (Parquet TIMESTAMP(MILLIS, UTC)).
    pub event_time: i64,
    pub event_name: &'a str,
    pub event_source: &'a str,
    pub event_type: &'static str,
    pub aws_region: Option<&'a str>,
    pub user_name: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub request_parameters: Option<&'a str>,
    pub response_elements: Option<&'a str>,
    pub role_arn: Option<String>,
    pub role_session_name: Option<String>,
    pub policy_arn: Option<String>,
    pub user_name_param: Option<String>,
    pub group_name: Option<String>,
    pub assumed_role_user: Option<String>,
    pub credentials_expiration: Option<String>,
    pub is_error: bool,
    pub identity_type: Option<&'a str>,
    pub principal_arn: Option<&'a str>,
    pub recipient_account_id: Option<&'a str>,
}

/// The two payloads of a record, as raw JSON text (everything else is skipped).
#[derive(Deserialize)]
struct Payloads<'a> {
    #[serde(rename = "requestParameters", borrow, default)]
    request: Option<&'a RawValue>,
    #[serde(rename = "responseElements", borrow, default)]
    response: Option<&'a RawValue>,
}

/// The request fields the derived columns come from.
#[derive(Deserialize, Default)]
struct Request {
    #[serde(rename = "roleArn")]
    role_arn: Option<serde_json::Value>,
    #[serde(rename = "roleSessionName")]
    role_session_name: Option<serde_json::Value>,
    #[serde(rename = "policyArn")]
    policy_arn: Option<serde_json::Value>,
    #[serde(rename = "userName")]
    user_name: Option<serde_json::Value>,
    #[serde(rename = "groupName")]
    group_name: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Credentials {
    expiration: Option<serde_json::Value>,
}

/// The response fields the derived columns come from.
#[derive(Deserialize, Default)]
struct Response<'a> {
    #[serde(rename = "assumedRoleUser", borrow, default)]
    assumed_role_user: Option<&'a RawValue>,
    credentials: Option<Credentials>,
}

/// A JSON value as a column value: strings as themselves, `null` as null, anything else as
/// its JSON text.
fn text(v: Option<serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// A raw payload, or `None` when absent or JSON `null`.
fn present(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|r| r.get().trim() != "null")
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn epoch_days(date: &str) -> Option<i32> {
    timefmt::parse_date(date).and_then(|secs| i32::try_from(secs.div_euclid(86_400)).ok())
}

/// Build the row of one stored event. The payloads come from `ev.raw`; a record whose raw
/// text does not parse (it was accepted at collection, so this is not expected) gets null
/// payload columns rather than failing the row.
pub fn derive(ev: &StoredEvent) -> Result<Row<'_>, RowError> {
    let secs = timefmt::parse_event_time(&ev.event_time).ok_or_else(|| RowError::BadTime {
        date: ev.event_date.clone(),
        event_id: ev.event_id.clone(),
        time: ev.event_time.clone(),
    })?;
    let event_date = epoch_days(&ev.event_date)
        .ok_or_else(|| RowError::BadDate { date: ev.event_date.clone(), event_id: ev.event_id.clone() })?;
    let payloads: Payloads<'_> = serde_json::from_str(&ev.raw).unwrap_or(Payloads { request: None, response: None });
    let request_raw = present(payloads.request);
    let response_raw = present(payloads.response);
    let request: Request = request_raw.and_then(|r| serde_json::from_str(r.get()).ok()).unwrap_or_default();
    let response: Response<'_> = response_raw.and_then(|r| serde_json::from_str(r.get()).ok()).unwrap_or_default();
    let error_code = ev.error_code.as_deref();
    Ok(Row {
        event_id: &ev.event_id,
        event_date,
        event_time: secs.saturating_mul(1000),
        event_name: &ev.event_name,
        event_source: &ev.event_source,
        event_type: ev.event_type.as_str(),
        aws_region: ev.aws_region.as_deref(),
        user_name: ev.user_name.as_deref(),
        source_ip: ev.source_ip.as_deref(),
        user_agent: ev.user_agent.as_deref(),
        error_code,
        error_message: ev.error_message.as_deref(),
        request_parameters: request_raw.map(RawValue::get),
        response_elements: response_raw.map(RawValue::get),
        role_arn: text(request.role_arn),
        role_session_name: text(request.role_session_name),
        policy_arn: text(request.policy_arn),
        user_name_param: text(request.user_name),
        group_name: text(request.group_name),
        assumed_role_user: present(response.assumed_role_user).map(|r| r.get().to_string()),
        credentials_expiration: response.credentials.and_then(|c| text(c.expiration)),
        is_error: error_code.is_some_and(|c| !c.trim().is_empty()),
        identity_type: ev.identity_type.as_deref(),
        principal_arn: ev.principal_arn.as_deref(),
        recipient_account_id: ev.recipient_account_id.as_deref(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EventType;

    pub(crate) fn stored(raw: serde_json::Value) -> StoredEvent {
        StoredEvent {
            event_date: "2024-09-08".into(),
            event_id: "e1".into(),
            event_time: "2024-09-08T10:11:12Z".into(),
            event_source: "sts.amazonaws.com".into(),
            event_name: "AssumeRole".into(),
            event_type: EventType::Sts,
            user_name: Some("alice".into()),
            identity_type: Some("IAMUser".into()),
            principal_arn: Some("arn:aws:iam::111122223333:user/alice".into()),
            aws_region: Some("eu-west-1".into()),
            source_ip: None,
            user_agent: None,
            error_code: None,
            error_message: None,
            recipient_account_id: Some("111122223333".into()),
            raw: raw.to_string(),
        }
    }

    #[test]
    fn derived_columns_come_from_the_payloads() {
        let ev = stored(serde_json::json!({
            "requestParameters": {"roleArn": "arn:aws:iam::1:role/r", "roleSessionName": "s", "durationSeconds": 3600},
            "responseElements": {"assumedRoleUser": {"arn": "arn:x", "assumedRoleId": "AROA:s"},
                                 "credentials": {"expiration": "Sep 8, 2024, 11:11:12 AM"}}
        }));
        let r = derive(&ev).expect("row");
        assert_eq!(r.event_time, 1_725_790_272_000);
        assert_eq!(r.event_date, 19_974);
        assert_eq!(r.role_arn.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(r.role_session_name.as_deref(), Some("s"));
        assert_eq!(r.assumed_role_user.as_deref(), Some(r#"{"arn":"arn:x","assumedRoleId":"AROA:s"}"#));
        assert_eq!(r.credentials_expiration.as_deref(), Some("Sep 8, 2024, 11:11:12 AM"));
        assert_eq!(r.policy_arn, None);
        assert!(r.request_parameters.is_some_and(|t| t.contains("durationSeconds")));
        assert!(!r.is_error);
        assert_eq!(r.event_type, "sts");
    }

    #[test]
    fn absent_and_null_payloads_are_nulls_not_empty_strings() {
        for raw in [serde_json::json!({}), serde_json::json!({"requestParameters": null, "responseElements": null})] {
            let ev = stored(raw);
            let r = derive(&ev).expect("row");
            assert_eq!((r.request_parameters, r.response_elements), (None, None));
            assert_eq!((r.role_arn, r.assumed_role_user, r.credentials_expiration), (None, None, None));
        }
        // A non-string value keeps its JSON text.
        let ev = stored(serde_json::json!({"requestParameters": {"userName": 42, "groupName": null}}));
        let r = derive(&ev).expect("row");
        assert_eq!((r.user_name_param.as_deref(), r.group_name), (Some("42"), None));
    }

    #[test]
    fn is_error_needs_a_non_empty_error_code() {
        let mut ev = stored(serde_json::json!({}));
        for (code, want) in [(None, false), (Some(""), false), (Some(" "), false), (Some("AccessDenied"), true)] {
            ev.error_code = code.map(str::to_string);
            assert_eq!(derive(&ev).expect("row").is_error, want, "{code:?}");
        }
    }

    #[test]
    fn a_time_that_is_not_a_time_is_a_named_error() {
        let mut ev = stored(serde_json::json!({}));
        ev.event_time = "redacted".into();
        let err = derive(&ev).expect_err("bad time");
        assert_eq!(err.to_string(), "event e1 of 2024-09-08: event_time `redacted` is not a time");
    }

    #[test]
    fn epoch_days_counts_from_1970() {
        assert_eq!(epoch_days("1970-01-01"), Some(0));
        assert_eq!(epoch_days("2024-09-08"), Some(19_974));
        assert_eq!(epoch_days("2024-9-8"), None);
    }
}
