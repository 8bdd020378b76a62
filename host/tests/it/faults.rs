//! The fixture plugin traps, loops, over-allocates and errors; the host survives each,
//! reports it against the plugin and event, and the other plugins go on.

use std::time::{Duration, Instant};

use iam_tracker::config::Config;
use iam_tracker::dispatch::{self, Dispatcher, LoadOptions};
use iam_tracker::plugin::{Limits, LoadError};

use crate::support::{fixtures_dir, record, root_login, run_record};

fn load_with_fixture(max_faults: u32) -> Dispatcher {
    dispatch::load(&LoadOptions {
        plugin_dirs: vec![fixtures_dir()],
        limits: Limits {
            call_timeout: Duration::from_millis(50),
            max_consecutive_faults: max_faults,
            ..Limits::default()
        },
        ..LoadOptions::default()
    })
    .expect("built-ins and fixture load")
}

fn fixture_stats(d: &Dispatcher) -> iam_tracker::plugin::PluginStats {
    d.plugins().find(|p| p.id() == "fixture-faulty").expect("fixture loaded").stats.clone()
}

#[test]
fn panic_is_a_classified_fault_with_the_panic_message() {
    let mut d = load_with_fixture(3);
    let (alerts, summary) = run_record(&mut d, &record("signin.amazonaws.com", "FixturePanic"));
    assert!(alerts.is_empty());
    assert_eq!(summary.plugin_faults, 1);
    let f = &summary.faults[0];
    assert_eq!((f.plugin.as_str(), f.kind), ("fixture-faulty", "panic"));
    assert_eq!(f.event_id.as_deref(), Some("id-FixturePanic"));
    assert!(f.log_tail.iter().any(|l| l.contains("fixture panic on purpose")), "log tail: {:?}", f.log_tail);
    // The instance was replaced and the other plugins keep working.
    let (alerts, summary) = run_record(&mut d, &root_login());
    assert_eq!(summary.plugin_faults, 0, "{:?}", summary.faults);
    assert_eq!(alerts.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(), vec!["Root Account Login"]);
    assert_eq!(alerts[0].user_name, "root");
    assert_eq!(fixture_stats(&d).reinstantiations, 1);
}

#[test]
fn infinite_loop_hits_the_deadline() {
    let mut d = load_with_fixture(3);
    let t = Instant::now();
    let (_, summary) = run_record(&mut d, &record("iam.amazonaws.com", "FixtureLoop"));
    let elapsed = t.elapsed();
    assert_eq!(summary.faults.first().map(|f| f.kind), Some("timeout"), "{:?}", summary.faults);
    assert!(elapsed < Duration::from_secs(2), "deadline took {elapsed:?}");
    // A later call gets a fresh deadline (re-armed per call), not an expired one.
    let (alerts, summary) = run_record(&mut d, &record("iam.amazonaws.com", "FixtureAlert"));
    assert_eq!(summary.plugin_faults, 0, "{:?}", summary.faults);
    assert_eq!(alerts.len(), 1);
}

#[test]
fn allocation_past_the_cap_is_a_memory_fault() {
    let mut d = load_with_fixture(3);
    let (_, summary) = run_record(&mut d, &record("iam.amazonaws.com", "FixtureAlloc"));
    assert_eq!(summary.faults.first().map(|f| f.kind), Some("memory limit"), "{:?}", summary.faults);
}

#[test]
fn returned_errors_are_reported_but_do_not_disable() {
    let mut d = load_with_fixture(2);
    for _ in 0..5 {
        let (_, summary) = run_record(&mut d, &record("iam.amazonaws.com", "FixtureError"));
        assert_eq!(
            summary.faults.first().map(|f| (f.kind, f.message.as_str())),
            Some(("error", "bad event: fixture error on purpose"))
        );
    }
    let s = fixture_stats(&d);
    assert_eq!((s.faults, s.traps, s.disabled), (5, 0, None));
}

#[test]
fn consecutive_traps_disable_the_plugin_for_the_run() {
    let mut d = load_with_fixture(3);
    for _ in 0..3 {
        run_record(&mut d, &record("iam.amazonaws.com", "FixturePanic"));
    }
    let s = fixture_stats(&d);
    assert!(s.disabled.as_deref().is_some_and(|r| r.contains("3 traps in a row")), "{:?}", s.disabled);
    let calls = s.calls;
    let (alerts, summary) = run_record(&mut d, &record("iam.amazonaws.com", "FixtureAlert"));
    assert!(alerts.is_empty() && summary.plugin_faults == 0);
    assert_eq!(fixture_stats(&d).calls, calls, "a disabled plugin must not be called");
    // The built-ins still run.
    let (alerts, _) = run_record(&mut d, &root_login());
    assert_eq!(alerts.len(), 1);
}

#[test]
fn a_success_resets_the_consecutive_count() {
    let mut d = load_with_fixture(2);
    for _ in 0..4 {
        run_record(&mut d, &record("iam.amazonaws.com", "FixturePanic"));
        run_record(&mut d, &record("iam.amazonaws.com", "FixtureAlert"));
    }
    assert_eq!(fixture_stats(&d).disabled, None);
}

#[test]
fn bad_config_fails_at_load_naming_the_plugin() {
    let config = Config::parse("[detectors.fixture-faulty]\nreject = true\n").expect("config");
    let err = dispatch::load(&LoadOptions { plugin_dirs: vec![fixtures_dir()], config, ..LoadOptions::default() })
        .err()
        .expect("load must fail");
    assert!(matches!(err, LoadError::Config { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "plugin fixture-faulty: configure rejected its config: invalid config: rejected on purpose (reject = true)"
    );
}
