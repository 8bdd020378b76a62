//! Embeds the built-in plugins: reads the canonical list `plugins/builtin.txt` and the
//! components in `target/plugins/` (or `$IAM_TRACKER_PLUGIN_DIST`), written by
//! `cargo xtask build-plugins`. Missing components are embedded as absent, so the crate
//! still builds on a fresh clone; the host then refuses to run and says what to do.
//!
//! With the `local-sql` feature (and not `local-sql-bundled`), it also checks that DuckDB's
//! prebuilt library is where the `duckdb` crate will link it from (`$DUCKDB_LIB_DIR`, which
//! `.cargo/config.toml` sets to `target/duckdb`), failing with the command that fetches it
//! instead of a linker error, and records that directory as the binaries' run path.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    duckdb();
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.parent().map(PathBuf::from).unwrap_or_default();
    let list_path = root.join("plugins/builtin.txt");
    println!("cargo:rerun-if-changed={}", list_path.display());
    println!("cargo:rerun-if-env-changed=IAM_TRACKER_PLUGIN_DIST");
    let dist =
        std::env::var_os("IAM_TRACKER_PLUGIN_DIST").map(PathBuf::from).unwrap_or_else(|| root.join("target/plugins"));
    println!("cargo:rerun-if-changed={}", dist.display());
    let list = std::fs::read_to_string(&list_path).unwrap_or_default();
    let ids: Vec<&str> = list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let mut out = String::new();
    let _ = writeln!(out, "/// The canonical built-in list, in load order.");
    let _ = writeln!(out, "pub static CANONICAL: &[&str] = &{ids:?};");
    let _ = writeln!(out, "/// The embedded components.");
    let _ = writeln!(out, "pub static BUILTINS: &[Builtin] = &[");
    let mut missing = Vec::new();
    for id in &ids {
        let embed = |ext: &str| {
            let p = dist.join(format!("{id}.{ext}"));
            println!("cargo:rerun-if-changed={}", p.display());
            if p.exists() {
                format!("Some(include_bytes!({:?}))", p.display().to_string())
            } else {
                "None".to_string()
            }
        };
        let wasm = embed("wasm");
        let cwasm = embed("cwasm");
        if wasm == "None" && cwasm == "None" {
            missing.push(*id);
            continue;
        }
        let _ = writeln!(out, "    Builtin {{ id: {id:?}, wasm: {wasm}, cwasm: {cwasm} }},");
    }
    let _ = writeln!(out, "];");
    if !missing.is_empty() {
        println!(
            "cargo:warning=built-in plugins not built yet ({}): run `cargo xtask build-plugins` before building the host",
            missing.join(", ")
        );
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out_dir.join("builtin.rs"), out) {
        println!("cargo:warning=cannot write builtin.rs: {e}");
        std::process::exit(1);
    }
}

/// Check for DuckDB's prebuilt library and add its directory to the run path.
fn duckdb() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    let wanted = std::env::var_os("CARGO_FEATURE_LOCAL_SQL").is_some();
    let bundled = std::env::var_os("CARGO_FEATURE_LOCAL_SQL_BUNDLED").is_some();
    if !wanted || bundled {
        return;
    }
    let Some(dir) = std::env::var_os("DUCKDB_LIB_DIR").map(PathBuf::from) else {
        eprintln!(
            "error: the `local-sql` feature links DuckDB's prebuilt library, but DUCKDB_LIB_DIR is not set \
             (.cargo/config.toml sets it to target/duckdb when building inside the workspace)"
        );
        std::process::exit(1);
    };
    let lib =
        if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") { "libduckdb.dylib" } else { "libduckdb.so" };
    let path = dir.join(lib);
    println!("cargo:rerun-if-changed={}", path.display());
    if !path.exists() {
        eprintln!(
            "error: {} is missing. The `local-sql` feature (the local SQL engine of `iam-tracker query`) links \
             DuckDB's prebuilt library: run `cargo xtask duckdb` to fetch it, or build with \
             `--features local-sql-bundled` (compiles DuckDB, about one CPU-hour), or without the engine \
             (`--no-default-features --features aws`).",
            path.display()
        );
        std::process::exit(1);
    }
    if std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() == Ok("unix") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
}
