//! Where exported objects live: `iam-events/year=YYYY/month=M/day=D/region=R/`, with no
//! leading zeros in month and day (the Athena projection ranges are `1,12` and `1,31`).
//!
//! This module is the only place that spells the layout. The writer names objects with
//! [`object_key`], and the exporter finds what already exists with [`day_prefix`] and
//! [`parse_key`], so writing and checking cannot disagree. (The original wrote `month=9`
//! and looked for `month=09`, so single-digit dates never looked exported and were
//! re-exported, with duplicate rows, on every run.)
//!
//! Each (date, region) partition has exactly one object, `events-YYYY-MM-DD-REGION.parquet`,
//! so exporting a date again replaces its objects instead of adding to them.
//!
//! Region values: the event's `aws_region` when it is a plausible region name (lowercase
//! letters, digits and `-`, at most 32 characters), else `unknown` (absent, or anything that
//! must not become a path segment). The row keeps its `aws_region` as recorded.

use time::Date;

use super::schema::TABLE_PREFIX;

/// The partition value of events without a usable `aws_region`.
pub const UNKNOWN_REGION: &str = "unknown";

/// The prefix (relative to the export root) of the per-date manifests. Athena, Glue and
/// Hive ignore paths that start with `_`, and partition projection never looks there.
pub const MANIFEST_PREFIX: &str = "iam-events/_manifest/";

/// The partition value for an event's `aws_region`.
pub fn region_partition(aws_region: Option<&str>) -> &str {
    match aws_region {
        Some(r)
            if !r.is_empty()
                && r.len() <= 32
                && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            r
        }
        _ => UNKNOWN_REGION,
    }
}

/// `iam-events/year=2024/month=9/day=8/`: every object of one date is under it.
pub fn day_prefix(date: Date) -> String {
    format!("{TABLE_PREFIX}/year={}/month={}/day={}/", date.year(), u8::from(date.month()), date.day())
}

/// `iam-events/year=2024/month=9/day=8/region=us-east-1/`.
pub fn partition_prefix(date: Date, region: &str) -> String {
    format!("{}region={region}/", day_prefix(date))
}

/// The one object of a (date, region) partition:
/// `iam-events/year=2024/month=9/day=8/region=us-east-1/events-2024-09-08-us-east-1.parquet`.
pub fn object_key(date: Date, region: &str) -> String {
    format!("{}events-{}-{region}.parquet", partition_prefix(date, region), iso(date))
}

/// The manifest of one date: `iam-events/_manifest/2024-09-08.json`.
pub fn manifest_key(date: Date) -> String {
    format!("{MANIFEST_PREFIX}{}.json", iso(date))
}

/// `2024-09-08`.
pub fn iso(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// A `YYYY-MM-DD` date.
pub fn parse_iso(text: &str) -> Option<Date> {
    Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// The (date, region) of an object key written by [`object_key`]; `None` for anything
/// else (another layout, zero-padded segments, a foreign file).
pub fn parse_key(key: &str) -> Option<(Date, String)> {
    let rest = key.strip_prefix(TABLE_PREFIX)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let num = |p: Option<&str>, name: &str| -> Option<u32> {
        let v = p?.strip_prefix(name)?.strip_prefix('=')?;
        // No leading zeros, no signs: exactly what day_prefix writes.
        if v.is_empty() || v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        v.parse().ok()
    };
    let year = i32::try_from(num(parts.next(), "year")?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(parts.next(), "month")?).ok()?).ok()?;
    let day = u8::try_from(num(parts.next(), "day")?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let region = parts.next()?.strip_prefix("region=")?.to_string();
    let file = parts.next()?;
    if parts.next().is_some() || region_partition(Some(&region)) != region {
        return None;
    }
    (object_key(date, &region).ends_with(&format!("/{file}"))).then_some((date, region))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn single_digit_months_and_days_have_no_leading_zero() {
        let d = date!(2024 - 09 - 08);
        assert_eq!(day_prefix(d), "iam-events/year=2024/month=9/day=8/");
        assert_eq!(
            object_key(d, "us-east-1"),
            "iam-events/year=2024/month=9/day=8/region=us-east-1/events-2024-09-08-us-east-1.parquet"
        );
        assert_eq!(
            object_key(date!(2024 - 12 - 31), "unknown"),
            "iam-events/year=2024/month=12/day=31/region=unknown/events-2024-12-31-unknown.parquet"
        );
        assert_eq!(manifest_key(d), "iam-events/_manifest/2024-09-08.json");
    }

    #[test]
    fn parse_key_reads_back_exactly_what_object_key_writes() {
        for (d, r) in [
            (date!(2024 - 09 - 08), "us-east-1"),
            (date!(2025 - 10 - 1), "unknown"),
            (date!(2030 - 1 - 31), "ap-southeast-5"),
        ] {
            assert_eq!(parse_key(&object_key(d, r)), Some((d, r.to_string())));
            assert!(object_key(d, r).starts_with(&day_prefix(d)));
        }
        for bad in [
            "iam-events/year=2024/month=09/day=08/region=us-east-1/events-2024-09-08-us-east-1.parquet",
            "iam-events/year=2024/month=9/day=8/region=us-east-1/events_2024-09-08_101112.parquet",
            "iam-events/year=2024/month=9/day=8/region=us-east-1/events-2024-09-08-eu-west-1.parquet",
            "iam-events/year=2024/month=2/day=30/region=us-east-1/events-2024-02-30-us-east-1.parquet",
            "iam-events/_manifest/2024-09-08.json",
            "other/year=2024/month=9/day=8/region=us-east-1/events-2024-09-08-us-east-1.parquet",
        ] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn regions_that_cannot_be_path_segments_are_unknown() {
        assert_eq!(region_partition(Some("eu-central-2")), "eu-central-2");
        for bad in [None, Some(""), Some("../x"), Some("US-EAST-1"), Some("a/b"), Some(&*"x".repeat(33))] {
            assert_eq!(region_partition(bad), UNKNOWN_REGION, "{bad:?}");
        }
    }
}
