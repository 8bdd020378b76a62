//! Third-party plugins fetched from an object prefix: only listed digests are admitted, a
//! faulty plugin is loaded (and isolated at run time by the host), junk is refused by name,
//! and nothing fails the whole fetch. A local folder stands in for the S3 prefix (the same
//! `ObjectSource` trait; the S3 adapter is tested against moto in the host's tests).

use std::path::PathBuf;

use iam_tracker::collect::trail::LocalDir;
use iam_tracker::plugin::{Limits, PluginHost};
use iam_tracker_lambda::plugins::{fetch, sha256_hex};

fn dist(name: &str) -> Vec<u8> {
    // `$IAM_TRACKER_PLUGIN_DIST`, as `host/build.rs` reads it, else `target/plugins`.
    let dist = std::env::var_os("IAM_TRACKER_PLUGIN_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/plugins"));
    let p = dist.join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask build-plugins`)", p.display()))
}

#[tokio::test]
async fn only_listed_digests_load_and_refusals_are_reported() {
    let prefix = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("tempdir");
    let good = dist("root-activity.wasm");
    let faulty = dist("fixtures/fixture-faulty.wasm");
    std::fs::write(prefix.path().join("my-root.wasm"), &good).expect("write");
    std::fs::write(prefix.path().join("faulty.wasm"), &faulty).expect("write");
    std::fs::write(prefix.path().join("unlisted.wasm"), &good).expect("write");
    std::fs::write(prefix.path().join("tampered.wasm"), &good).expect("write");
    std::fs::write(prefix.path().join("junk.wasm"), b"\0asm not really").expect("write");
    std::fs::write(prefix.path().join("README.txt"), b"ignored").expect("write");
    let allowed = vec![
        ("my-root.wasm".to_string(), sha256_hex(&good)),
        ("faulty.wasm".to_string(), sha256_hex(&faulty)),
        ("tampered.wasm".to_string(), sha256_hex(b"what was reviewed")),
        ("junk.wasm".to_string(), sha256_hex(b"\0asm not really")),
    ];
    let src = LocalDir::new(prefix.path()).expect("prefix");
    let host = PluginHost::new(Limits::default()).expect("host");
    let got = fetch(&src, &allowed, &host, cache.path(), &|_| "{}".to_string()).await;
    let mut ids: Vec<&str> = got.plugins.iter().map(|p| p.id()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["fixture-faulty", "root-activity"]);
    let refused = got.refused.join("\n");
    assert!(refused.contains("unlisted.wasm: not listed in PLUGINS_SHA256"), "{refused}");
    assert!(refused.contains("tampered.wasm: SHA-256 is"), "{refused}");
    assert!(refused.contains("junk.wasm: admitted but does not load"), "{refused}");
    assert_eq!(got.refused.len(), 3, "{refused}");
    // Compiled once: the cache holds one artifact per admitted, loadable component.
    let cached = std::fs::read_dir(cache.path()).expect("cache").count();
    assert_eq!(cached, 2);
}
