//! Loader rejections: wrong interface version, WASI imports, not a component, duplicate
//! ids, and the fallback from an unusable `.cwasm` to compiling the `.wasm`.

use std::path::Path;

use iam_tracker::dispatch::{self, LoadOptions};
use iam_tracker::plugin::{Limits, LoadError, PluginHost};

use crate::support::{fixtures_dir, root};

fn no_config(_: &str) -> String {
    "{}".into()
}

fn load_one(dir: &Path) -> Result<Vec<iam_tracker::plugin::Plugin>, LoadError> {
    PluginHost::new(Limits::default()).expect("host").load_dir(dir, &no_config)
}

fn write_wat(dir: &Path, name: &str, wat: &str) {
    let bytes = wat::parse_str(wat).expect("valid wat");
    std::fs::write(dir.join(name), bytes).expect("write");
}

#[test]
fn newer_interface_version_is_rejected_with_both_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_wat(
        dir.path(),
        "future.wasm",
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $x (export "info" (func $f)))
            (export "iam-tracker:plugin/detection@0.2.0" (instance $x)))"#,
    );
    let err = load_one(dir.path()).err().expect("must be rejected");
    let msg = err.to_string();
    assert!(matches!(err, LoadError::Incompatible { .. }), "{msg}");
    assert!(msg.contains("future.wasm"), "{msg}");
    assert!(msg.contains("iam-tracker:plugin/detection@0.2.0"), "{msg}");
    assert!(msg.contains("detection@0.1.0"), "{msg}");
}

#[test]
fn wasi_imports_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_wat(
        dir.path(),
        "wasi.wasm",
        r#"(component
            (import "wasi:cli/environment@0.2.0" (instance $env (export "get-arguments" (func (result (list string))))))
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $x (export "info" (func $f)))
            (export "iam-tracker:plugin/detection@0.1.0" (instance $x)))"#,
    );
    let msg = load_one(dir.path()).err().expect("must be refused").to_string();
    assert!(
        msg.contains("wasi.wasm") && msg.contains("wasi:cli/environment@0.2.0") && msg.contains("without WASI"),
        "{msg}"
    );
}

#[test]
fn garbage_is_not_a_component() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("junk.wasm"), b"definitely not wasm").expect("write");
    let msg = load_one(dir.path()).err().expect("must fail").to_string();
    assert!(
        msg.starts_with(&format!("{}: not a valid WebAssembly component", dir.path().join("junk.wasm").display())),
        "{msg}"
    );
}

#[test]
fn duplicate_ids_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(root().join("target/plugins/root-activity.wasm"), dir.path().join("copy.wasm")).expect("copy");
    let err = dispatch::load(&LoadOptions { plugin_dirs: vec![dir.path().to_path_buf()], ..LoadOptions::default() })
        .err()
        .expect("duplicate must fail");
    let msg = err.to_string();
    assert!(msg.starts_with("duplicate plugin id \"root-activity\": loaded from built-in and again from"), "{msg}");
    assert!(msg.contains("copy.wasm"), "{msg}");
}

#[test]
fn unusable_cwasm_falls_back_to_compiling() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(fixtures_dir().join("fixture-faulty.wasm"), dir.path().join("fixture-faulty.wasm")).expect("copy");
    std::fs::write(dir.path().join("fixture-faulty.cwasm"), b"\x7fELF not really").expect("write");
    let plugins = load_one(dir.path()).expect("falls back to .wasm");
    assert_eq!(plugins.len(), 1);
    assert!(!plugins[0].load.precompiled);
    assert!(plugins[0].load.fallback.is_some());
    // A matching .cwasm is used.
    std::fs::copy(fixtures_dir().join("fixture-faulty.cwasm"), dir.path().join("fixture-faulty.cwasm")).expect("copy");
    let plugins = load_one(dir.path()).expect("loads");
    assert!(plugins[0].load.precompiled, "{:?}", plugins[0].load.fallback);
}

#[test]
fn only_keeps_the_named_detectors_and_rejects_unknown_ids() {
    let d =
        dispatch::load(&LoadOptions { only: vec!["root-activity".into()], ..LoadOptions::default() }).expect("load");
    let ids: Vec<&str> = d.plugins().map(|p| p.id()).collect();
    assert_eq!(ids, vec!["user-name", "root-activity"]);
    let err =
        dispatch::load(&LoadOptions { only: vec!["nope".into()], ..LoadOptions::default() }).err().expect("unknown");
    assert!(err.to_string().starts_with("--only \"nope\": no such detector (loaded: root-activity,"), "{err}");
}

#[test]
fn a_vetted_component_is_compiled_once_and_then_loaded_from_the_cache() {
    let wasm = std::fs::read(root().join("target/plugins/root-activity.wasm")).expect("built plugin");
    let cache = tempfile::tempdir().expect("tempdir");
    let host = PluginHost::new(Limits::default()).expect("host");
    let first = host.load_cached("root-activity.wasm", &wasm, "k1", cache.path(), "{}").expect("compiles");
    assert_eq!(first.id(), "root-activity");
    let artifact = cache.path().join("k1.cwasm");
    assert!(artifact.is_file(), "the compiled artifact is cached");
    let second = host.load_cached("root-activity.wasm", &wasm, "k1", cache.path(), "{}").expect("from cache");
    assert!(second.load.precompiled, "the second load uses the cached artifact");
    // A damaged cache entry is recompiled and replaced, never trusted.
    std::fs::write(&artifact, b"not an artifact").expect("damage");
    let third = host.load_cached("root-activity.wasm", &wasm, "k1", cache.path(), "{}").expect("recompiles");
    assert_eq!(third.id(), "root-activity");
    assert!(std::fs::read(&artifact).expect("rewritten").len() > 1000);
    // Bytes that are not a component are refused by name.
    let err = host.load_cached("junk.wasm", b"\0asm junk", "k2", cache.path(), "{}").err().expect("refused");
    assert!(err.to_string().contains("junk.wasm"), "{err}");
}
