//! Times as iam-tracker reads and writes them: epoch seconds inside, RFC 3339 UTC outside.
//!
//! CloudTrail's `eventTime` is usually `2024-05-01T12:00:00Z`, but the spec lists other
//! shapes: fractional seconds, `YYYY-MM-DD HH:MM:SS` without `T`/`Z`, an offset, or garbage
//! (`redacted`). [`parse_event_time`] accepts every real shape and answers `None` for
//! garbage, in which case the caller keeps the raw value and dates the event otherwise.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Epoch seconds of an event time, or `None` when it is not a time.
pub fn parse_event_time(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return Some(dt.unix_timestamp());
    }
    // Without a zone (taken as UTC), with `T` or a space, with or without fractions.
    let fmts = [
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"),
    ];
    let bare = t.strip_suffix('Z').or_else(|| t.strip_suffix(" UTC")).unwrap_or(t);
    fmts.iter()
        .find_map(|f| PrimitiveDateTime::parse(bare, f).ok())
        .map(|p| p.assume_offset(UtcOffset::UTC).unix_timestamp())
}

/// `2024-05-01T12:00:00Z` for epoch seconds (clamped to the representable range).
pub fn rfc3339(epoch: i64) -> String {
    let dt = OffsetDateTime::from_unix_timestamp(epoch).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    dt.format(&Rfc3339).unwrap_or_else(|_| epoch.to_string())
}

/// `YYYY-MM-DD` (UTC) of epoch seconds.
pub fn date_of(epoch: i64) -> String {
    let dt = OffsetDateTime::from_unix_timestamp(epoch).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let d = dt.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Epoch seconds of midnight UTC of a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<i64> {
    let d = Date::parse(text.trim(), format_description!("[year]-[month]-[day]")).ok()?;
    Some(d.midnight().assume_offset(UtcOffset::UTC).unix_timestamp())
}

/// A `--since` value: a date (`2024-05-01`, midnight UTC), an RFC 3339 time, or a
/// duration back from `now` (`90d`, `12h`, `30m`).
pub fn parse_since(text: &str, now: i64) -> Result<i64, String> {
    let t = text.trim();
    if let Some(e) = parse_date(t).or_else(|| parse_event_time(t)) {
        return Ok(e);
    }
    parse_duration(t).map(|secs| now - secs).ok_or_else(|| bad_since(text))
}

/// A duration (`90d`, `12h`, `30m`, `45s`) in seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = num.parse().ok()?;
    let secs = match unit {
        "d" => 86_400,
        "h" => 3600,
        "m" => 60,
        "s" => 1,
        _ => return None,
    };
    Some(n.saturating_mul(secs))
}

fn bad_since(text: &str) -> String {
    format!(
        "`{text}` is not a date (2024-05-01), an RFC 3339 time (2024-05-01T12:00:00Z) or a duration (90d, 12h, 30m)"
    )
}

/// Now, in epoch seconds.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_real_shape_parses_and_garbage_does_not() {
        let want = Some(1_714_564_800); // 2024-05-01T12:00:00Z
        for t in [
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00.123Z",
            "2024-05-01T14:00:00+02:00",
            "2024-05-01 12:00:00",
            "2024-05-01T12:00:00",
            "2024-05-01 12:00:00.5",
        ] {
            assert_eq!(parse_event_time(t), want, "{t}");
        }
        for t in ["redacted", "", "2024-13-01T00:00:00Z", "12:00"] {
            assert_eq!(parse_event_time(t), None, "{t}");
        }
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(rfc3339(1_714_564_800), "2024-05-01T12:00:00Z");
        assert_eq!(date_of(1_714_564_800), "2024-05-01");
        assert_eq!(parse_date("2024-05-01"), Some(1_714_521_600));
    }

    #[test]
    fn since_accepts_dates_times_and_durations() {
        let now = 1_714_564_800;
        assert_eq!(parse_since("2024-05-01", now), Ok(1_714_521_600));
        assert_eq!(parse_since("2024-05-01T12:00:00Z", now), Ok(now));
        assert_eq!(parse_since("2d", now), Ok(now - 172_800));
        assert!(parse_since("yesterday", now).is_err_and(|e| e.contains("yesterday")));
    }

    #[test]
    fn durations_are_a_number_and_a_unit() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration(" 30d "), Some(2_592_000));
        for bad in ["", "d", "10", "10w", "2024-05-01", "2024-05-01T12:00:00Z", "-5m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
