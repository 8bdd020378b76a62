//! Panther-style test cases: `cases/<name>.json` holds one CloudTrail record and
//! `cases/<name>.expected.json` what the plugin must return. Used by every plugin's native
//! tests and by the host's `plugins test` command, so both judge cases the same way.
//!
//! Expected file for a detector: `{"alerts": [{"detector": "...", "severity": "critical",
//! "title": "...", "message_contains": ["..."]}], "source": "where the record shape came from"}`.
//! For the extractor: `{"user_name": "alice"}`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Detector, Extractor, NativeEvent, Severity};

/// One expected alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAlert {
    pub detector: String,
    pub severity: Severity,
    pub title: String,
    /// Facts the message must contain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message_contains: Vec<String>,
}

/// The expected-result file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    #[serde(default)]
    pub alerts: Option<Vec<ExpectedAlert>>,
    #[serde(default)]
    pub user_name: Option<String>,
    /// Where the record shape came from (documentation only).
    #[serde(default)]
    pub source: Option<String>,
}

/// One case on disk.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub record_path: PathBuf,
    pub record: String,
    pub expected: Expected,
}

/// An alert as produced, reduced to what cases compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualAlert {
    pub detector: String,
    pub severity: Severity,
    pub title: String,
    pub message: String,
}

/// Load every case in a folder, sorted by name. Errors name the file.
pub fn load_cases(dir: &Path) -> Result<Vec<Case>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read cases folder {}: {e}", dir.display()))?;
    let mut cases = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot read cases folder {}: {e}", dir.display()))?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else { continue };
        if !file.ends_with(".json") || file.ends_with(".expected.json") {
            continue;
        }
        let name = file.trim_end_matches(".json").to_string();
        let expected_path = dir.join(format!("{name}.expected.json"));
        let record = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let expected_text = std::fs::read_to_string(&expected_path)
            .map_err(|e| format!("case {name}: cannot read {}: {e}", expected_path.display()))?;
        let expected: Expected = serde_json::from_str(&expected_text)
            .map_err(|e| format!("case {name}: {} is not a valid expected file: {e}", expected_path.display()))?;
        if expected.alerts.is_none() && expected.user_name.is_none() {
            return Err(format!("case {name}: {} has neither `alerts` nor `user_name`", expected_path.display()));
        }
        cases.push(Case { name, record_path: path, record, expected });
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

/// Compare a detector's output with the expected alerts; `Err` holds a readable diff.
pub fn compare_alerts(expected: &[ExpectedAlert], actual: &[ActualAlert]) -> Result<(), String> {
    let mut problems = Vec::new();
    if expected.len() != actual.len() {
        problems.push(format!("expected {} alert(s), got {}", expected.len(), actual.len()));
    }
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        if e.detector != a.detector {
            problems.push(format!("alert {i}: detector: expected {:?}, got {:?}", e.detector, a.detector));
        }
        if e.severity != a.severity {
            problems.push(format!("alert {i}: severity: expected {}, got {}", e.severity, a.severity));
        }
        if e.title != a.title {
            problems.push(format!("alert {i}: title: expected {:?}, got {:?}", e.title, a.title));
        }
        for fact in &e.message_contains {
            if !a.message.contains(fact.as_str()) {
                problems.push(format!("alert {i}: message {:?} does not contain {:?}", a.message, fact));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let got: Vec<String> =
        actual.iter().map(|a| format!("  - [{}] {} ({}): {}", a.severity, a.title, a.detector, a.message)).collect();
    Err(format!(
        "{}\n  got:\n{}",
        problems.join("\n  "),
        if got.is_empty() { "  (no alerts)".into() } else { got.join("\n") }
    ))
}

/// Compare an extractor's output with the expected user name.
pub fn compare_user_name(expected: &str, actual: Option<&str>) -> Result<(), String> {
    if Some(expected) == actual {
        Ok(())
    } else {
        Err(format!("user_name: expected {expected:?}, got {actual:?}"))
    }
}

/// The cases folder of the crate under test (`$CARGO_MANIFEST_DIR/cases`).
pub fn cases_dir(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir).join("cases")
}

fn finish(dir: &Path, count: usize, failures: Vec<String>) {
    assert!(count > 0, "no cases found in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} of {count} case(s) failed in {}:\n{}",
        failures.len(),
        dir.display(),
        failures.join("\n")
    );
}

/// Run every case of a detector natively, honouring its subscriptions like the host does.
/// Panics with a report of every failing case.
pub fn run_detector_cases<D: Detector>(dir: &Path) {
    let cases = load_cases(dir).unwrap_or_else(|e| panic!("{e}"));
    let info = D::info();
    let mut det = D::default();
    if let Err(e) = det.configure("{}") {
        panic!("configure({{}}) failed: {e}");
    }
    let mut failures = Vec::new();
    for case in &cases {
        let Some(expected) = &case.expected.alerts else {
            failures.push(format!("case {}: expected file has no `alerts`", case.name));
            continue;
        };
        let ev = match NativeEvent::from_json(&case.record) {
            Ok(ev) => ev,
            Err(e) => {
                failures.push(format!("case {}: record is not JSON: {e}", case.name));
                continue;
            }
        };
        let event = ev.event();
        let actual = if info.subscribes_to(&event.event_source(), &event.event_name()) {
            match det.detect(&event) {
                Ok(alerts) => alerts
                    .into_iter()
                    .map(|a| ActualAlert {
                        detector: info.id.clone(),
                        severity: a.severity,
                        title: a.title,
                        message: a.message,
                    })
                    .collect(),
                Err(e) => {
                    failures.push(format!("case {}: detect returned an error: {e}", case.name));
                    continue;
                }
            }
        } else {
            Vec::new()
        };
        if let Err(diff) = compare_alerts(expected, &actual) {
            failures.push(format!("case {}: {diff}", case.name));
        }
    }
    finish(dir, cases.len(), failures);
}

/// Run every case of an extractor natively.
pub fn run_extractor_cases<E: Extractor>(dir: &Path) {
    let cases = load_cases(dir).unwrap_or_else(|e| panic!("{e}"));
    let ext = E::default();
    let mut failures = Vec::new();
    for case in &cases {
        let Some(expected) = &case.expected.user_name else {
            failures.push(format!("case {}: expected file has no `user_name`", case.name));
            continue;
        };
        match NativeEvent::from_json(&case.record) {
            Ok(ev) => {
                let ev = ev.with_actor(None);
                let got = ext.extract_user_name(&ev.event());
                if let Err(diff) = compare_user_name(expected, got.as_deref()) {
                    failures.push(format!("case {}: {diff}", case.name));
                }
            }
            Err(e) => failures.push(format!("case {}: record is not JSON: {e}", case.name)),
        }
    }
    finish(dir, cases.len(), failures);
}
