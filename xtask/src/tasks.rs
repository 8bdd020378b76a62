//! `cargo xtask demo` and `cargo xtask test`: the README's two fresh-machine commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

fn cargo(root: &Path) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root);
    c
}

/// Print a step's heading with the time since the first step, so a slow CI run shows where
/// its minutes went.
fn step(name: &str) {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let secs = START.get_or_init(std::time::Instant::now).elapsed().as_secs();
    eprintln!("\nxtask: ==> [{}:{:02}] {name}", secs / 60, secs % 60);
}

fn run(mut cmd: Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("cannot run {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Set by [`test`]: take the host binary from the workspace test build.
static TEST_BUILD: std::sync::OnceLock<()> = std::sync::OnceLock::new();

/// `cargo` with clippy as the rustc wrapper of the workspace members, denying warnings:
/// the test build *is* the clippy run. This is what `cargo clippy` does, except that cargo
/// compiles instead of only checking; the dependencies are built once, for the tests,
/// instead of a second time in check mode for clippy (about a fifth of a clean CI run, most
/// of it the AWS SDK). Every workspace build in [`test`] uses it, so none rebuilds another.
fn cargo_linted(root: &Path) -> Result<Command> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .with_context(|| format!("cannot run {rustc} --print sysroot"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let driver = sysroot.join("bin/clippy-driver");
    if !driver.is_file() {
        bail!("{} is missing: install clippy with `rustup component add clippy`", driver.display());
    }
    let mut c = cargo(root);
    // cargo-clippy's own protocol: arguments for clippy-driver, each followed by the marker.
    c.env("RUSTC_WORKSPACE_WRAPPER", driver).env("CLIPPY_ARGS", "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__");
    Ok(c)
}

/// Build every target of the workspace for the tests, linted ([`cargo_linted`]); a no-op
/// once built.
fn build_test_targets(root: &Path) -> Result<()> {
    let mut c = cargo_linted(root)?;
    c.args(["test", "--workspace", "--all-targets", "--no-run"]);
    run(c, "cargo test --workspace --all-targets --no-run (clippy -D warnings)")
}

/// The host binary in the debug profile (built on demand).
///
/// Inside `cargo xtask test` it is the binary of the workspace test build (`cargo test
/// --workspace --no-run`, a no-op after the tests ran): `cargo build -p iam-tracker` resolves
/// features without the dev-dependencies, so it would compile the AWS SDK a second time.
pub fn host_binary(root: &Path) -> Result<PathBuf> {
    crate::duckdb::ensure(root)?;
    if TEST_BUILD.get().is_some() {
        build_test_targets(root)?;
    } else {
        let mut c = cargo(root);
        c.args(["build", "-p", "iam-tracker"]);
        run(c, "cargo build -p iam-tracker")?;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    Ok(target.join("debug/iam-tracker"))
}

/// The UTC date of the bundled sample trail's records (`samples/AWSLogs/.../2026/03/01/`).
const SAMPLE_DATE: &str = "2026-03-01";

/// Build the plugins and run the main job on the sample trail, then the local analytics
/// pipeline over it: export to Parquet and one of the pre-built queries.
pub fn demo(root: &Path) -> Result<()> {
    step("build plugins");
    crate::build_plugins()?;
    // A fresh embedded store each time, so the demo always shows its alerts (a second
    // `collect` over the same files into the same store reads nothing new: each file is
    // read once, and alerts are deduplicated).
    let store = root.join("target/demo-store");
    if store.exists() {
        std::fs::remove_dir_all(&store).with_context(|| format!("cannot remove {}", store.display()))?;
    }
    let store_arg = format!("local:{}", store.display());
    step("iam-tracker collect --source trail:samples/ --store local:target/demo-store");
    let bin = host_binary(root)?;
    let status = Command::new(&bin)
        .current_dir(root)
        .args(["collect", "--source", "trail:samples/", "--store", &store_arg])
        .status()?;
    // Exit code 1 would mean rejected records, plugin faults or failed deliveries.
    if !status.success() {
        bail!("iam-tracker collect exited with {status}");
    }
    step("iam-tracker events --store local:target/demo-store --event-name ConsoleLogin (read back)");
    let status = Command::new(&bin)
        .current_dir(root)
        .args(["events", "--store", &store_arg, "--event-name", "ConsoleLogin"])
        .status()?;
    if !status.success() {
        bail!("iam-tracker events exited with {status}");
    }
    // The local analytics pipeline on the same store: Parquet, then a query over it.
    step(&format!("iam-tracker export --store local:target/demo-store --date {SAMPLE_DATE}"));
    let status =
        Command::new(&bin).current_dir(root).args(["export", "--store", &store_arg, "--date", SAMPLE_DATE]).status()?;
    if !status.success() {
        bail!("iam-tracker export exited with {status}");
    }
    let data = store.join("export");
    step(&format!(
        "iam-tracker query run daily_summary --engine local --data target/demo-store/export --as-of {SAMPLE_DATE} --days 1"
    ));
    let status = Command::new(&bin)
        .current_dir(root)
        .args(["query", "run", "daily_summary", "--engine", "local", "--as-of", SAMPLE_DATE, "--days", "1", "--data"])
        .arg(&data)
        .status()?;
    if !status.success() {
        bail!("iam-tracker query run exited with {status}");
    }
    Ok(())
}

/// Everything CI checks.
pub fn test(root: &Path) -> Result<()> {
    let _ = TEST_BUILD.set(());
    step("build plugins");
    crate::build_plugins()?;
    step("moto server for the S3 tests");
    crate::moto::ensure(root)?;
    step("DynamoDB Local for the DynamoDB store tests");
    crate::dynamodb_local::ensure(root)?;
    step("pyarrow, pandas, duckdb for the export interoperability test");
    crate::pyarrow::ensure(root)?;
    step("DuckDB's prebuilt library for the local SQL engine");
    crate::duckdb::ensure(root)?;
    step("build every target with clippy denying warnings (the same as cargo clippy --workspace --all-targets -- -D warnings)");
    build_test_targets(root)?;
    step("cargo test --workspace");
    let mut c = cargo_linted(root)?;
    c.args(["test", "--workspace"]);
    run(c, "cargo test --workspace")?;
    step("README plugin table is current");
    crate::readme::run(root, true)?;
    step("Athena DDL in deploy/athena/ and the template's Glue table and named queries are current");
    crate::analytics::ddl(root, true)?;
    step("template.yaml: SAM transform (samtranslator) and cfn-lint, offline");
    crate::deploy::validate_template(root)?;
    step("third-party Rust plugin: new-plugin, build-plugin, plugins test, detect");
    smoke_new_plugin(root)?;
    step("Python example plugin: build-py-plugin, plugins test");
    let example = root.join("examples/plugins/console-login-without-mfa");
    let dist = example.join("dist");
    crate::python::build_py_plugin(root, &example, &dist)?;
    let bin = host_binary(root)?;
    let mut c = Command::new(&bin);
    c.args(["plugins", "test"]).arg(&dist).arg("--cases").arg(example.join("cases"));
    run(c, "iam-tracker plugins test (python example)")?;
    eprintln!("\nxtask: all checks passed");
    Ok(())
}

fn smoke_new_plugin(root: &Path) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("iam-tracker-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    crate::new_plugin("smoke-rule", &tmp)?;
    let crate_dir = tmp.join("smoke-rule");
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(&crate_dir).env_remove("CARGO_TARGET_DIR").args(["test", "--quiet"]);
    run(c, "cargo test in the scaffolded plugin")?;
    let dist = crate_dir.join("dist");
    crate::build_external_plugin(&crate_dir, &dist)?;
    let bin = host_binary(root)?;
    let mut c = Command::new(&bin);
    c.args(["plugins", "test"]).arg(&dist).arg("--cases").arg(crate_dir.join("cases"));
    run(c, "iam-tracker plugins test (scaffolded plugin)")?;
    let out = Command::new(&bin)
        .current_dir(root)
        .args(["detect", "--format", "jsonl", "--only", "smoke-rule", "--plugin-dir"])
        .arg(&dist)
        .arg("samples/")
        .output()?;
    let alerts = String::from_utf8_lossy(&out.stdout).lines().count();
    if !out.status.success() || alerts == 0 {
        bail!(
            "detect with the scaffolded plugin: exit {}, {alerts} alerts\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("xtask: scaffolded plugin raised {alerts} alert(s) on samples/");
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
