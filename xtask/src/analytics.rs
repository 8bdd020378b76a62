//! `cargo xtask ddl [--check]` and `cargo xtask bench-queries`.
//!
//! - `ddl` writes `deploy/athena/iam_events.sql` and `deploy/athena/iam_events.columns.json`
//!   from `iam-tracker query ddl [--json]` (generated from `host/src/export/schema.rs`);
//!   `--check` fails when the checked-in files differ (run by `cargo xtask test`).
//! - `bench-queries [--data DIR] [--runs N] [--days N] [--as-of DATE]`: runs each of the 15
//!   queries on the local engine N times (release build without the AWS SDK) and prints the
//!   median time per query as the engine reports it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The generated files and the `iam-tracker query ddl` flags that print them.
const FILES: &[(&str, &[&str])] =
    &[("deploy/athena/iam_events.sql", &[]), ("deploy/athena/iam_events.columns.json", &["--json"])];

/// Regenerate (or check) the checked-in Athena DDL.
pub fn ddl(root: &Path, check: bool) -> Result<()> {
    let bin = crate::tasks::host_binary(root)?;
    let mut stale = Vec::new();
    for (path, flags) in FILES {
        let out = Command::new(&bin).args(["query", "ddl"]).args(*flags).output().context("cannot run iam-tracker")?;
        if !out.status.success() {
            bail!("iam-tracker query ddl {flags:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let file = root.join(path);
        let current = std::fs::read(&file).unwrap_or_default();
        if current == out.stdout {
            continue;
        }
        if check {
            stale.push(*path);
        } else {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(&file, &out.stdout).with_context(|| format!("cannot write {}", file.display()))?;
            eprintln!("xtask: wrote {path}");
        }
    }
    if !stale.is_empty() {
        bail!("{} out of date with host/src/export/schema.rs; run `cargo xtask ddl`", stale.join(", "));
    }
    if check {
        eprintln!("xtask: Athena DDL files are current");
    }
    Ok(())
}

/// The 15 query names, from `iam-tracker query list --format json`.
fn query_names(bin: &Path) -> Result<Vec<String>> {
    let out = Command::new(bin).args(["query", "list", "--format", "json"]).output()?;
    if !out.status.success() {
        bail!("iam-tracker query list failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).context("query list is not JSON")?;
    Ok(list.iter().filter_map(|q| q["name"].as_str().map(str::to_string)).collect())
}

/// Seconds from the `time N.NNs` of `query run`'s stderr summary.
fn reported_seconds(stderr: &str) -> Option<f64> {
    let rest = &stderr[stderr.rfind(": ")?..];
    let t = rest.split("time ").nth(1)?;
    t.split('s').next()?.trim().parse().ok()
}

/// Run every query on the local engine `runs` times; print the median per query.
pub fn bench_queries(root: &Path, args: &[String]) -> Result<()> {
    let data = crate::flag(args, "--data").map(PathBuf::from).unwrap_or_else(|| root.join("target/bench-export/parquet"));
    let runs: usize = crate::flag(args, "--runs").map(str::parse).transpose()?.unwrap_or(5).max(1);
    // Every query over all the data by default (its own window would miss generated dates).
    let days = crate::flag(args, "--days").unwrap_or("3650");
    let as_of = crate::flag(args, "--as-of");
    eprintln!("xtask: building iam-tracker (release, local-sql only, no AWS SDK)");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["build", "--release", "-p", "iam-tracker", "--no-default-features", "--features", "local-sql"])
        .status()?;
    if !status.success() {
        bail!("release build failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let bin = target.join("release/iam-tracker");
    println!("| query | rows | median (s) | min (s) | max (s) |\n|---|---:|---:|---:|---:|");
    for name in query_names(&bin)? {
        let mut times = Vec::with_capacity(runs);
        let mut rows = 0;
        for _ in 0..runs {
            let mut c = Command::new(&bin);
            c.args(["query", "run", &name, "--engine", "local", "--format", "csv", "--days", days])
                .arg("--data")
                .arg(&data);
            if let Some(d) = as_of {
                c.args(["--as-of", d]);
            }
            let out = c.output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                bail!("{name}: {stderr}");
            }
            rows = out.stdout.iter().filter(|b| **b == b'\n').count().saturating_sub(1);
            times.push(reported_seconds(&stderr).with_context(|| format!("{name}: no time in {stderr:?}"))?);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| {name} | {rows} | {:.3} | {:.3} | {:.3} |",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_time_of_the_summary_line() {
        assert_eq!(reported_seconds("active_users: 30 rows, time 0.42s\n"), Some(0.42));
        assert_eq!(reported_seconds("nothing"), None);
    }
}
