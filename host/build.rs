//! Embeds the built-in plugins: reads the canonical list `plugins/builtin.txt` and the
//! components in `target/plugins/` (or `$IAM_TRACKER_PLUGIN_DIST`), written by
//! `cargo xtask build-plugins`. Missing components are embedded as absent, so the crate
//! still builds on a fresh clone; the host then refuses to run and says what to do.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
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
