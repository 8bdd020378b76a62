//! Every plugin's `cases/` run through the embedded components, and the canonical list,
//! the `plugins/` folders and the built artifacts agree.

use std::collections::BTreeSet;
use std::sync::Arc;

use iam_tracker::detect;
use iam_tracker::event::CloudTrailEvent;
use iam_tracker::input::{Origin, Position};
use iam_tracker::plugin::builtin_ids;
use iam_tracker::report::Summary;
use iam_tracker_plugin_sdk::testing::{self, ActualAlert};

use crate::support::{load_builtins, root};

/// Folders under plugins/ that are not built-in plugins.
const NOT_BUILTIN: &[&str] = &["sdk", "fixture-faulty"];

#[test]
fn canonical_list_folders_and_artifacts_agree() {
    let root = root();
    let listed: BTreeSet<String> = builtin_ids().iter().map(|s| s.to_string()).collect();
    let text = std::fs::read_to_string(root.join("plugins/builtin.txt")).expect("builtin.txt");
    let file_ids: BTreeSet<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect();
    assert_eq!(listed, file_ids, "the binary was built from another plugins/builtin.txt: rebuild");
    let folders: BTreeSet<String> = std::fs::read_dir(root.join("plugins"))
        .expect("plugins/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| !NOT_BUILTIN.contains(&n.as_str()))
        .collect();
    assert_eq!(listed, folders, "plugins/builtin.txt and the plugins/ folders disagree");
    let built: BTreeSet<String> = std::fs::read_dir(root.join("target/plugins"))
        .expect("target/plugins (run cargo xtask build-plugins)")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".wasm")).map(String::from))
        .collect();
    assert_eq!(listed, built, "built components in target/plugins disagree with the list");
    let d = load_builtins();
    let loaded: BTreeSet<String> = d.plugins().map(|p| p.id().to_string()).collect();
    assert_eq!(listed, loaded, "embedded components disagree with the list");
    for p in d.plugins() {
        assert!(p.load.precompiled, "{} was not loaded from its precompiled artifact: {:?}", p.id(), p.load.fallback);
    }
    // Every built-in has cases, with the minimum mix for detectors.
    for id in &listed {
        let cases = testing::load_cases(&root.join("plugins").join(id).join("cases")).expect("cases load");
        if id == "user-name" {
            assert!(cases.len() >= 8, "{id}: too few cases");
            continue;
        }
        let count = |p: &str| cases.iter().filter(|c| c.name.starts_with(p)).count();
        assert!(count("pos_") >= 3, "{id}: needs at least 3 positive cases");
        assert!(count("neg_") >= 3, "{id}: needs at least 3 negative cases");
        assert!(count("failed_") >= 1, "{id}: needs a failed-call case");
        assert!(count("malformed_") >= 1, "{id}: needs a malformed or minimal case");
    }
}

#[test]
fn every_case_passes_through_the_wasm_components() {
    let mut d = load_builtins();
    let ids: Vec<String> = builtin_ids().iter().map(|s| s.to_string()).collect();
    let mut failures = Vec::new();
    let mut total = 0;
    for id in &ids {
        let dir = root().join("plugins").join(id).join("cases");
        for case in testing::load_cases(&dir).expect("cases load") {
            total += 1;
            let ev = match CloudTrailEvent::parse(&case.record) {
                Ok(ev) => Arc::new(ev),
                Err(e) => {
                    failures.push(format!("{id}/{}: host rejected the record: {e}", case.name));
                    continue;
                }
            };
            let mut alerts = Vec::new();
            let mut summary = Summary::default();
            let origin = Origin { file: case.name.clone(), position: Position::Record(0) };
            detect::process_event(&mut d, ev.clone(), &origin, &mut |a| alerts.push(a), &mut summary);
            if summary.plugin_faults > 0 {
                failures.push(format!("{id}/{}: plugin fault: {:?}", case.name, summary.faults));
            }
            if let Some(expected) = &case.expected.alerts {
                // Only this plugin's alerts: another detector may legitimately fire too.
                let actual: Vec<ActualAlert> = alerts
                    .iter()
                    .filter(|a| &a.detector == id)
                    .map(|a| ActualAlert {
                        detector: a.detector.clone(),
                        severity: a.severity,
                        title: a.title.clone(),
                        message: a.message.clone(),
                    })
                    .collect();
                if let Err(diff) = testing::compare_alerts(expected, &actual) {
                    failures.push(format!("{id}/{}: {diff}", case.name));
                }
            }
            if let Some(expected) = &case.expected.user_name {
                let got = d.extract_only(ev).expect("extractor runs");
                if let Err(diff) = testing::compare_user_name(expected, got.as_deref()) {
                    failures.push(format!("{id}/{}: {diff}", case.name));
                }
            }
        }
    }
    assert!(total > 150, "only {total} cases found");
    assert!(failures.is_empty(), "{} of {total} cases failed through wasm:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn wasm_and_native_rules_agree_on_messages() {
    // Differential check: the same rule natively and as a component gives the same alert.
    let dir = root().join("plugins/root-activity/cases");
    let mut d = load_builtins();
    for case in testing::load_cases(&dir).expect("cases") {
        let native = iam_tracker_plugin_sdk::NativeEvent::from_json(&case.record).expect("json");
        let native_alerts =
            <iam_tracker_plugin_root_activity::RootActivity as iam_tracker_plugin_sdk::Detector>::detect(
                &Default::default(),
                &native.event(),
            )
            .expect("native detect");
        let (wasm_alerts, _) = crate::support::run_record(&mut d, &case.record);
        let wasm: Vec<(String, String)> = wasm_alerts
            .iter()
            .filter(|a| a.detector == "root-activity")
            .map(|a| (a.title.clone(), a.message.clone()))
            .collect();
        let native: Vec<(String, String)> = native_alerts.into_iter().map(|a| (a.title, a.message)).collect();
        assert_eq!(wasm, native, "case {}", case.name);
        let wasm_user =
            d.extract_only(Arc::new(CloudTrailEvent::parse(&case.record).expect("parse"))).expect("extract");
        let native_user = iam_tracker_plugin_sdk::identity::extract_user_name(
            &iam_tracker_plugin_sdk::NativeEvent::from_json(&case.record).expect("json").event(),
        );
        assert_eq!(wasm_user.as_deref(), Some(native_user.as_str()), "case {}", case.name);
    }
}
