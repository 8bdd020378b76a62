//! The `iam-tracker` binary: output formats, bad input, exit codes, `plugins test`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::{fixtures_dir, root, root_login};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_iam-tracker"));
    c.env_remove("IAM_TRACKER_CONFIG").env("NO_COLOR", "1");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn sample_trail_raises_one_alert_per_detector_and_exits_0() {
    let samples = root().join("samples");
    let out = run(&["detect", "--format", "jsonl", samples.to_str().expect("utf8")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let alerts: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    let mut detectors: Vec<&str> = alerts.iter().filter_map(|a| a["detector"].as_str()).collect();
    detectors.sort();
    detectors.dedup();
    assert_eq!(detectors.len(), 14, "{detectors:?}");
    assert_eq!(alerts.len(), 14);
    for a in &alerts {
        for key in [
            "event_id",
            "event_time",
            "event_source",
            "event_name",
            "user_name",
            "detector",
            "severity",
            "title",
            "message",
            "dedup_key",
            "source",
        ] {
            assert!(a.get(key).is_some_and(|v| !v.is_null()), "missing {key} in {a}");
        }
        assert!(a["source"].as_str().is_some_and(|s| s.contains(".json.gz record ")), "{a}");
    }
    assert!(stderr.contains("records read: 38, rejected: 0"), "{stderr}");
    assert!(stderr.contains("skipped 1 file(s)") && stderr.contains("README.md"), "{stderr}");
}

#[test]
fn bad_records_are_rejected_alone_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    let login = root_login();
    std::fs::write(p.join("a.jsonl"), format!("{login}\n{{broken\n[1,2]\n")).expect("write");
    std::fs::write(p.join("b.json"), format!("{{\"Records\": [{login}, \"text\", {{\"eventName\": \"X\"}}]}}"))
        .expect("write");
    let huge =
        format!(r#"{{"eventSource":"iam.amazonaws.com","eventName":"ListUsers","x":"{}"}}"#, "a".repeat(1 << 20));
    let huge_len = huge.len();
    std::fs::write(p.join("c.json"), huge).expect("write");
    std::fs::write(p.join("d.json.gz"), b"\x1f\x8b\x08\x00garbage").expect("write");
    std::fs::write(p.join("e.json"), "").expect("write");
    let out = run(&["detect", "--format", "jsonl", p.to_str().expect("utf8")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    // The good records still produce their alerts.
    assert_eq!(text(&out.stdout).lines().count(), 2, "stdout: {}", text(&out.stdout));
    let f = |n: &str| p.join(n).display().to_string();
    for expected in [
        format!("rejected {} line 2: not valid JSON: key must be a string at line 1 column 2", f("a.jsonl")),
        format!("rejected {} line 3: record is an array, not a JSON object", f("a.jsonl")),
        format!("rejected {} record 1: record is a string, not a JSON object", f("b.json")),
        format!("rejected {} record 2: record has no eventSource (or it is not a string)", f("b.json")),
        format!("rejected {} record 0: record is {huge_len} bytes, over the limit of 524288 bytes", f("c.json")),
        format!("rejected {}: corrupt gzip data", f("d.json.gz")),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(stderr.contains("records read: 7, rejected: 6"), "{stderr}");
}

#[test]
fn stdin_and_json_format() {
    let mut child = bin()
        .args(["detect", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(root_login().as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON array");
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!(v[0]["title"], "Root Account Login");
    assert_eq!(v[0]["source"], "- record 0");
    assert_eq!(v[0]["dedup_key"], "root-activity:root-1");
}

#[test]
fn plugin_faults_exit_1_and_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = crate::support::record("iam.amazonaws.com", "FixturePanic");
    std::fs::write(dir.path().join("x.json"), rec).expect("write");
    let out = run(&[
        "detect",
        "--plugin-dir",
        fixtures_dir().to_str().expect("utf8"),
        dir.path().join("x.json").to_str().expect("utf8"),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("fault fixture-faulty on event id-FixturePanic"), "{stderr}");
    assert!(stderr.contains("panic: guest panicked"), "{stderr}");
    assert!(stderr.contains("plugin log: panicked: "), "{stderr}");
}

#[test]
fn cannot_run_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("c.toml"), "trusted_account_ids = \"oops\"\n").expect("write");
    let out = run(&["detect", "--config", dir.path().join("c.toml").to_str().expect("utf8"), "samples"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("c.toml") && stderr.contains("trusted_account_ids"), "{stderr}");
    let out = run(&["detect", "--only", "nope", "samples"]);
    assert_eq!(out.status.code(), Some(2));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

#[test]
fn plugins_test_passes_good_cases_and_fails_wrong_ones() {
    let plugin = root().join("target/plugins/root-activity.wasm");
    let cases = root().join("plugins/root-activity/cases");
    let out = run(&["plugins", "test", plugin.to_str().expect("utf8"), "--cases", cases.to_str().expect("utf8")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains(" 0 failed"), "{stdout}");

    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&cases, dir.path());
    let exp = dir.path().join("pos_root_login_success.expected.json");
    let body = std::fs::read_to_string(&exp).expect("read").replace("Root Account Login", "Wrong Title");
    std::fs::write(&exp, body).expect("write");
    let out = run(&["plugins", "test", plugin.to_str().expect("utf8"), "--cases", dir.path().to_str().expect("utf8")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL   pos_root_login_success"), "{stdout}");
    assert!(stdout.contains("title: expected \"Wrong Title\", got \"Root Account Login\""), "{stdout}");
    assert!(stdout.contains(" 1 failed"), "{stdout}");
}

#[test]
fn plugins_list_json_names_every_builtin() {
    let out = run(&["plugins", "list", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rows = v.as_array().expect("array");
    assert_eq!(rows.len(), 15);
    assert_eq!(rows[0]["id"], "user-name");
    assert_eq!(rows[0]["kind"], "extractor");
    assert!(rows.iter().all(|r| r["interface_version"] == "0.1.0" && r["source"] == "built-in"));
}

#[test]
fn config_exclusions_and_disabled_detectors_apply_and_are_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        "disabled: [sso-app-deletion]\nexclusions:\n  - detectors: [root-activity]\n    principal_arn: \"arn:aws:iam::*:root\"\n    reason: break-glass drill\n",
    )
    .expect("write");
    let samples = root().join("samples");
    let out =
        run(&["detect", "--format", "jsonl", "--config", cfg.to_str().expect("utf8"), samples.to_str().expect("utf8")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let detectors: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["detector"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(detectors.len(), 12, "{detectors:?}");
    assert!(!detectors.iter().any(|d| d == "root-activity" || d == "sso-app-deletion"), "{detectors:?}");
    assert!(stderr.contains("alerts excluded by config: 1 (exclusions[0] (break-glass drill): 1)"), "{stderr}");

    std::fs::write(&cfg, "disabled: [no-such-rule]\n").expect("write");
    let out = run(&["detect", "--config", cfg.to_str().expect("utf8"), samples.to_str().expect("utf8")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("disabled[0]: unknown detector id \"no-such-rule\""), "{stderr}");
}

#[test]
fn example_config_is_valid() {
    let cfg = root().join("examples/config.toml");
    let out = run(&["plugins", "list", "--config", cfg.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
