//! How stored events and alerts are printed by `iam-tracker events` and `iam-tracker alerts`.
//!
//! - `jsonl`: one JSON object per row with every stored attribute (absent ones are `null`).
//!   The raw record (events) and the delivered payload (alerts) are nested JSON values, not
//!   strings, when they parse; otherwise they stay strings.
//! - `table`: aligned columns for a terminal. Values come from CloudTrail and can hold
//!   anything, so control characters are escaped (no terminal escape sequences get through)
//!   and absent values print as `-`.

use std::io::{self, Write};

use serde_json::Value;

use super::{AlertRecord, StoredEvent};

/// Output format of the read-back commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ViewFormat {
    Table,
    Jsonl,
}

/// One event as a JSON object: `event_id` and every stored attribute, `raw` nested.
pub fn event_json(e: &StoredEvent) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    nest(&mut v, "raw");
    v
}

/// One alert as a JSON object: every recorded field, `payload` nested.
pub fn alert_json(a: &AlertRecord) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    nest(&mut v, "payload");
    v
}

/// Replace the string at `key` by the JSON it holds, when it holds JSON.
fn nest(v: &mut Value, key: &str) {
    if let Some(slot) = v.get_mut(key) {
        if let Some(parsed) = slot.as_str().and_then(|s| serde_json::from_str::<Value>(s).ok()) {
            *slot = parsed;
        }
    }
}

/// Print events in `format`.
pub fn write_events(out: &mut impl Write, events: &[StoredEvent], format: ViewFormat) -> io::Result<()> {
    match format {
        ViewFormat::Jsonl => write_jsonl(out, events.iter().map(event_json)),
        ViewFormat::Table => {
            let rows = events.iter().map(|e| {
                vec![
                    e.event_time.clone(),
                    e.event_source.clone(),
                    e.event_name.clone(),
                    opt(&e.user_name),
                    opt(&e.aws_region),
                    opt(&e.source_ip),
                    opt(&e.error_code),
                ]
            });
            write_table(out, &["TIME", "EVENT SOURCE", "EVENT NAME", "USER", "REGION", "SOURCE IP", "ERROR CODE"], rows)
        }
    }
}

/// Print alerts in `format`.
pub fn write_alerts(out: &mut impl Write, alerts: &[AlertRecord], format: ViewFormat) -> io::Result<()> {
    match format {
        ViewFormat::Jsonl => write_jsonl(out, alerts.iter().map(alert_json)),
        ViewFormat::Table => {
            let rows = alerts.iter().map(|a| {
                vec![
                    crate::timefmt::rfc3339(a.created_at),
                    a.severity.as_str().to_string(),
                    a.detector.clone(),
                    match a.sent_at {
                        Some(t) => format!("sent {}", crate::timefmt::rfc3339(t)),
                        None => "pending".to_string(),
                    },
                    opt(&a.event_id),
                    a.title.clone(),
                ]
            });
            write_table(out, &["CREATED", "SEVERITY", "DETECTOR", "STATUS", "EVENT ID", "TITLE"], rows)
        }
    }
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".to_string())
}

fn write_jsonl(out: &mut impl Write, rows: impl Iterator<Item = Value>) -> io::Result<()> {
    for row in rows {
        serde_json::to_writer(&mut *out, &row)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Columns padded to their widest cell; the last column is not padded.
fn write_table(out: &mut impl Write, headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> io::Result<()> {
    let rows: Vec<Vec<String>> = rows.map(|r| r.iter().map(|c| printable(c)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    out.flush()
}

/// `cell` with control characters escaped (`\n`, `\u{1b}`), everything else as is.
fn printable(cell: &str) -> String {
    if !cell.chars().any(char::is_control) {
        return cell.to_string();
    }
    cell.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EventType;
    use crate::Severity;

    fn event(id: &str, user: Option<&str>, raw: &str) -> StoredEvent {
        StoredEvent {
            event_date: "2024-05-01".into(),
            event_id: id.into(),
            event_time: "2024-05-01T12:00:00Z".into(),
            event_source: "iam.amazonaws.com".into(),
            event_name: "CreateUser".into(),
            event_type: EventType::Iam,
            user_name: user.map(Into::into),
            identity_type: Some("IAMUser".into()),
            principal_arn: None,
            aws_region: Some("us-east-1".into()),
            source_ip: Some("203.0.113.9".into()),
            user_agent: None,
            error_code: None,
            error_message: None,
            recipient_account_id: Some("111122223333".into()),
            raw: raw.into(),
        }
    }

    fn alert(key: &str, sent_at: Option<i64>, payload: &str) -> AlertRecord {
        AlertRecord {
            dedup_key: key.into(),
            detector: "user-creation".into(),
            severity: Severity::High,
            title: "IAM User Created".into(),
            event_id: Some("e1".into()),
            event_time: Some("2024-05-01T12:00:00Z".into()),
            payload: payload.into(),
            created_at: 1_714_564_800,
            sent_at,
            dedup_until: 1_714_564_800 + 3600,
            expires_at: 1_714_564_800 + 86_400,
        }
    }

    fn render(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).expect("write to a Vec");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn event_jsonl_has_every_attribute_and_nests_the_raw_record() {
        let events = [event("e1", Some("alice"), r#"{"eventID":"e1","n":[1,2]}"#), event("e2", None, "not json")];
        let text = render(|o| write_events(o, &events, ViewFormat::Jsonl));
        let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
        assert_eq!(rows.len(), 2);
        let keys: Vec<&str> = rows[0].as_object().expect("object").keys().map(String::as_str).collect();
        for k in [
            "event_date",
            "event_id",
            "event_time",
            "event_source",
            "event_name",
            "event_type",
            "user_name",
            "identity_type",
            "principal_arn",
            "aws_region",
            "source_ip",
            "user_agent",
            "error_code",
            "error_message",
            "recipient_account_id",
            "raw",
        ] {
            assert!(keys.contains(&k), "missing {k} in {keys:?}");
        }
        assert_eq!(rows[0]["raw"]["n"][1], 2, "raw is nested JSON");
        assert_eq!(rows[0]["event_type"], "iam");
        assert_eq!(rows[0]["principal_arn"], Value::Null);
        assert_eq!(rows[1]["user_name"], Value::Null);
        assert_eq!(rows[1]["raw"], "not json", "unparsable raw stays a string");
    }

    #[test]
    fn event_table_is_aligned_and_escapes_control_characters() {
        let mut evil = event("e2", Some("bob\u{1b}[31m\nx"), "{}");
        evil.error_code = Some("AccessDenied".into());
        let events = [event("e1", Some("alice"), "{}"), evil];
        let text = render(|o| write_events(o, &events, ViewFormat::Table));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("TIME                  EVENT SOURCE       EVENT NAME  USER"), "{text}");
        assert!(!text.contains('\u{1b}'), "escape sequences must not reach the terminal: {text:?}");
        assert!(lines[2].contains(r"bob\u{1b}[31m\nx"), "{text}");
        // Columns line up: USER starts at the same offset on every line.
        let col = lines[0].find("USER").expect("USER header");
        assert_eq!(&lines[1][col..col + 5], "alice");
        assert_eq!(&lines[2][col..col + 3], "bob");
        assert!(lines[1].ends_with("203.0.113.9  -"), "absent error code is `-`: {text}");
        assert!(lines[2].ends_with("AccessDenied"), "{text}");
    }

    #[test]
    fn alerts_print_status_and_nested_payload() {
        let alerts = [alert("k1", None, r#"{"title":"IAM User Created"}"#), alert("k2", Some(1_714_568_400), "x")];
        let text = render(|o| write_alerts(o, &alerts, ViewFormat::Jsonl));
        let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
        assert_eq!(rows[0]["payload"]["title"], "IAM User Created");
        assert_eq!(rows[0]["sent_at"], Value::Null);
        assert_eq!(rows[0]["severity"], "high");
        assert_eq!(rows[1]["payload"], "x");
        assert_eq!(rows[1]["sent_at"], 1_714_568_400);
        let table = render(|o| write_alerts(o, &alerts, ViewFormat::Table));
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("CREATED               SEVERITY  DETECTOR       STATUS"), "{table}");
        assert!(lines[1].contains("pending") && lines[1].ends_with("IAM User Created"), "{table}");
        assert!(lines[2].contains("sent 2024-05-01T13:00:00Z"), "{table}");
    }

    #[test]
    fn empty_results_print_only_the_header() {
        assert_eq!(render(|o| write_events(o, &[], ViewFormat::Jsonl)), "");
        assert_eq!(render(|o| write_alerts(o, &[], ViewFormat::Table)).lines().count(), 1);
    }
}
