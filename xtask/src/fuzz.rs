//! `cargo xtask fuzz [--seconds N]`: build and run the cargo-fuzz target `detect`
//! (`fuzz/`) for a bounded time, and fail if libFuzzer found a crash.
//!
//! Steps: install cargo-fuzz ([`CARGO_FUZZ_VERSION`], with `cargo install --locked`) if
//! `cargo fuzz` is missing; build the built-in plugins if `target/plugins/` is missing (the
//! fuzz build embeds them); `cargo fuzz build -O detect`; `cargo fuzz run -O detect` with
//! `-max_total_time=N` on `fuzz/corpus/detect` (seeds plus whatever earlier runs found).
//! libFuzzer's output is streamed; the executions reached are printed at the end
//! (`stat::number_of_executed_units`). A crash (host panic or plugin fault) makes libFuzzer
//! exit non-zero and leave the input in `fuzz/artifacts/detect/`; this command then fails
//! and names the file. Reproduce one with `cargo fuzz run -O detect <file>`.
//!
//! Stable toolchains: cargo-fuzz asks rustc for `-Zsanitizer=address`, a nightly flag, so
//! the build sets `RUSTC_BOOTSTRAP=1` when rustc is not a nightly. `IAM_TRACKER_FUZZ_SANITIZER`
//! (`address` by default, or `none`) picks the sanitizer.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The cargo-fuzz release installed when `cargo fuzz` is missing.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// The fuzz target.
pub const TARGET: &str = "detect";
/// The default run time in seconds.
pub const DEFAULT_SECONDS: u64 = 60;

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn has_cargo_fuzz() -> bool {
    cargo().args(["fuzz", "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn is_nightly() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    Command::new(rustc).arg("--version").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("nightly"))
}

/// `cargo fuzz <sub> -O [--sanitizer S] detect`, run from the workspace root.
fn cargo_fuzz(root: &Path, sub: &str) -> Command {
    let mut cmd = cargo();
    cmd.current_dir(root).args(["fuzz", sub, "-O"]);
    if let Ok(s) = std::env::var("IAM_TRACKER_FUZZ_SANITIZER") {
        cmd.args(["--sanitizer", &s]);
    }
    cmd.arg(TARGET);
    if !is_nightly() {
        cmd.env("RUSTC_BOOTSTRAP", "1");
    }
    // Do not let xtask's own target dir leak into the fuzz build (it uses fuzz/target).
    cmd.env_remove("CARGO_TARGET_DIR");
    cmd
}

fn crash_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            ["crash-", "leak-", "timeout-", "oom-"].iter().any(|k| name.starts_with(k))
        })
        .collect();
    out.sort();
    out
}

/// Build the fuzzer and run it for `seconds`; fail if it finds a crash.
pub fn run(root: &Path, seconds: u64) -> Result<()> {
    let fuzz_dir = root.join("fuzz");
    if !fuzz_dir.join("Cargo.toml").exists() {
        bail!("{} has no Cargo.toml", fuzz_dir.display());
    }
    if !has_cargo_fuzz() {
        eprintln!("xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION}");
        let status = cargo()
            .args(["install", "cargo-fuzz", "--locked", "--version", CARGO_FUZZ_VERSION])
            .status()
            .context("cannot run cargo install")?;
        if !status.success() {
            bail!("`cargo install cargo-fuzz` failed");
        }
    }
    if !root.join("target/plugins/manifest.json").exists() {
        eprintln!("xtask: target/plugins/ is missing; building the built-in plugins first");
        crate::build_plugins()?;
    }

    let started = Instant::now();
    let status = cargo_fuzz(root, "build").status().context("cannot run cargo fuzz build")?;
    if !status.success() {
        bail!("`cargo fuzz build` failed");
    }
    let build_secs = started.elapsed().as_secs_f64();
    eprintln!("xtask: fuzz target built in {build_secs:.1}s");

    let corpus = fuzz_dir.join("corpus").join(TARGET);
    let artifacts = fuzz_dir.join("artifacts").join(TARGET);
    std::fs::create_dir_all(&corpus)?;
    let before = crash_files(&artifacts);
    let run_started = Instant::now();
    let mut child = cargo_fuzz(root, "run")
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        // One input must not take more than this (a plugin hang is caught by the host's
        // per-call deadline well before).
        .arg("-timeout=30")
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo fuzz run")?;
    let mut executions: Option<u64> = None;
    let mut peak_rss: Option<u64> = None;
    let mut corpus_units: Option<String> = None;
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines() {
            let line = line.unwrap_or_default();
            eprintln!("{line}");
            let value = |key: &str| line.strip_prefix(key).map(|v| v.trim().to_string());
            if let Some(v) = value("stat::number_of_executed_units:") {
                executions = v.parse().ok();
            } else if let Some(v) = value("stat::peak_rss_mb:") {
                peak_rss = v.parse().ok();
            } else if let Some(corp) = line.split_whitespace().skip_while(|w| *w != "corp:").nth(1) {
                // `#9802	DONE   cov: 7992 ft: 29951 corp: 1943/1009Kb ...`: units/size.
                corpus_units = Some(corp.replacen('/', " units, ", 1));
            }
        }
    }
    let status = child.wait().context("cargo fuzz run")?;
    let run_secs = run_started.elapsed().as_secs_f64();
    let new: Vec<PathBuf> = crash_files(&artifacts).into_iter().filter(|p| !before.contains(p)).collect();
    if let Some(n) = executions {
        eprintln!(
            "xtask: fuzz: {n} executions in {run_secs:.0}s ({:.0}/s), corpus {}, peak RSS {} MB; build {build_secs:.0}s",
            n as f64 / run_secs.max(1e-9),
            corpus_units.as_deref().unwrap_or("?"),
            peak_rss.map_or("?".to_string(), |r| r.to_string()),
        );
    }
    if !new.is_empty() {
        let list: Vec<String> = new.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "the fuzzer found {} crashing input(s): {}\nreproduce with: cargo fuzz run -O {TARGET} <file>",
            new.len(),
            list.join(", ")
        );
    }
    if !status.success() {
        bail!("`cargo fuzz run` failed ({status})");
    }
    Ok(())
}
