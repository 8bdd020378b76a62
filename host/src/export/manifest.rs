//! What was exported: one small JSON manifest per date, `iam-events/_manifest/YYYY-MM-DD.json`
//! in the same object store as the files, and the rule that decides whether a date must be
//! exported again ([`decide`]).
//!
//! One object per date (not one file for all dates): a run rewrites only the dates it
//! exports, two runs exporting different dates cannot overwrite each other's entries, and
//! the manifest never grows into a file that must be read whole. The manifest is written
//! last, after every object of the date is in place and stale ones are deleted, so a crash
//! mid-date leaves the old manifest (or none) and the next run exports the date again.
//!
//! Athena and Glue ignore `_`-prefixed paths, and partition projection only looks at
//! `year=/month=/day=/region=` paths, so the manifests are never read as table data.

use serde::{Deserialize, Serialize};

use super::writer::SCHEMA_VERSION;

/// One exported (date, region) file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub region: String,
    /// Relative to the export root.
    pub key: String,
    pub rows: u64,
    pub bytes: u64,
}

/// The manifest of one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateManifest {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// [`SCHEMA_VERSION`] of the files.
    pub schema_version: u32,
    /// The store's `date_count` when the date was read for this export.
    pub store_count: u64,
    /// Rows written (the store count minus the events skipped).
    pub rows: u64,
    /// Events that could not become rows (named in the run's summary).
    pub skipped: u64,
    /// Whether the date was closed (past the lateness window) when exported. An open date
    /// is exported again on every run until an export happens after it closed.
    pub closed: bool,
    /// RFC 3339 UTC.
    pub exported_at: String,
    pub files: Vec<ManifestFile>,
}

impl DateManifest {
    /// Parse a manifest object; `None` for anything unreadable (the date is then exported
    /// again, which is always safe).
    pub fn parse(bytes: &[u8]) -> Option<DateManifest> {
        serde_json::from_slice(bytes).ok()
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

/// Why a date is exported, or why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// No manifest (never exported, or the manifest is unreadable).
    New,
    /// The store's count differs from the exported one.
    CountChanged,
    /// The date is still open (today, or within the lateness window), or was open at the
    /// last export and has closed since.
    Open,
    /// The manifest was written for another schema version.
    SchemaChanged,
    /// `--force`.
    Forced,
    /// Exported, closed, same count: nothing to do.
    Unchanged,
    /// No events and nothing exported: nothing to do.
    Empty,
}

impl Decision {
    /// Whether the date is (re)written.
    pub fn exports(self) -> bool {
        !matches!(self, Decision::Unchanged | Decision::Empty)
    }

    /// A short word for the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::New => "new",
            Decision::CountChanged => "count changed",
            Decision::Open => "open",
            Decision::SchemaChanged => "schema changed",
            Decision::Forced => "forced",
            Decision::Unchanged => "unchanged",
            Decision::Empty => "empty",
        }
    }
}

/// Whether a date is still open at `now` (epoch seconds): events for it may still arrive
/// until `lateness` seconds after its end (midnight UTC after it).
pub fn is_open(date_midnight: i64, now: i64, lateness: i64) -> bool {
    now < date_midnight + 86_400 + lateness
}

/// Decide for one date: `count` is the store's `date_count` now, `open` whether the date
/// is open now, `previous` its manifest, if any.
pub fn decide(count: u64, open: bool, previous: Option<&DateManifest>, force: bool) -> Decision {
    match previous {
        _ if force => Decision::Forced,
        None if count == 0 => Decision::Empty,
        None => Decision::New,
        Some(m) if m.schema_version != SCHEMA_VERSION => Decision::SchemaChanged,
        Some(m) if m.store_count != count => Decision::CountChanged,
        Some(m) if open || !m.closed => Decision::Open,
        Some(_) => Decision::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(count: u64, closed: bool) -> DateManifest {
        DateManifest {
            date: "2024-09-08".into(),
            schema_version: SCHEMA_VERSION,
            store_count: count,
            rows: count,
            skipped: 0,
            closed,
            exported_at: "2024-09-12T00:00:00Z".into(),
            files: Vec::new(),
        }
    }

    #[test]
    fn the_rules() {
        assert_eq!(decide(0, false, None, false), Decision::Empty);
        assert_eq!(decide(5, false, None, false), Decision::New);
        assert_eq!(decide(5, false, Some(&manifest(5, true)), false), Decision::Unchanged);
        assert_eq!(decide(5, false, Some(&manifest(5, true)), true), Decision::Forced);
        assert_eq!(decide(6, false, Some(&manifest(5, true)), false), Decision::CountChanged);
        assert_eq!(decide(0, false, Some(&manifest(5, true)), false), Decision::CountChanged, "events gone");
        assert_eq!(decide(5, true, Some(&manifest(5, false)), false), Decision::Open, "still open");
        assert_eq!(decide(5, false, Some(&manifest(5, false)), false), Decision::Open, "closed since: once more");
        let mut old = manifest(5, true);
        old.schema_version = SCHEMA_VERSION + 1;
        assert_eq!(decide(5, false, Some(&old), false), Decision::SchemaChanged);
    }

    #[test]
    fn dates_stay_open_for_the_lateness_window_after_their_end() {
        let midnight = 1_725_753_600; // 2024-09-08
        let two_days = 2 * 86_400;
        assert!(is_open(midnight, midnight + 3600, two_days), "the day itself");
        assert!(is_open(midnight, midnight + 86_400 + two_days - 1, two_days));
        assert!(!is_open(midnight, midnight + 86_400 + two_days, two_days));
        assert!(!is_open(midnight, midnight + 86_400, 0), "no lateness: closed at its end");
    }

    #[test]
    fn manifests_round_trip_and_garbage_is_none() {
        let m = manifest(3, true);
        assert_eq!(DateManifest::parse(&m.to_json()), Some(m));
        assert_eq!(DateManifest::parse(b"{not json"), None);
    }
}
