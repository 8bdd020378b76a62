//! `cargo xtask dist [--arch arm64|x86_64] [--out DIR]`: everything `sam deploy` needs, for
//! one Lambda architecture.
//!
//! 1. The built-in plugins are built (`build-plugins`: components in `target/plugins/`), then
//!    precompiled for the Lambda architecture into `OUT/plugins-<arch>/` (`.wasm`, `.cwasm`,
//!    `manifest.json`, the layout `host/build.rs` embeds). The engine is the host's own
//!    ([`iam_tracker_engine::config`]) with only the target triple set, so a `.cwasm` matches
//!    the host that embeds it and the cold start does not compile. No CPU feature beyond the
//!    architecture's baseline is assumed: the artifacts load on any Lambda host.
//! 2. Every binary of the `iam-tracker-lambda` package is built with cargo-lambda (PyPI
//!    `cargo-lambda`, pinned, in `target/cargo-lambda-venv`, with zig for the linking) in
//!    release mode for the architecture's triple, with `IAM_TRACKER_PLUGIN_DIST` pointing at
//!    the plugins of step 1. Output: `OUT/lambda-<arch>/<binary>/bootstrap`.
//! 3. `OUT/template.yaml` is `template.yaml` with each function's `CodeUri` pointing at its
//!    binary's folder (from the function's `BuildProperties: Binary`), the `rust-cargolambda`
//!    build metadata dropped (the code is built), and the `Architecture` parameter pinned to the
//!    built architecture, so the stack cannot run the code on the other one.
//!    `deploy/deploy.sh` runs `sam deploy --template-file target/dist/template.yaml`.
//!
//! arm64 needs the `aarch64-unknown-linux-gnu` rustup target: it is added when missing, and
//! when that fails the command stops and says what to install.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

/// cargo-lambda from PyPI; it depends on `ziglang`, the cross linker.
pub const CARGO_LAMBDA: &[&str] = &["cargo-lambda==1.9.2"];
/// The package whose binaries are the Lambda functions.
pub const LAMBDA_PACKAGE: &str = "iam-tracker-lambda";
/// The largest zipped deployment package Lambda accepts (direct upload, bytes).
const LAMBDA_ZIP_LIMIT: u64 = 50 * 1024 * 1024;

/// A Lambda architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    /// Parse the `--arch` value: Lambda's names (`x86_64`, `arm64`), plus `aarch64`.
    pub fn parse(s: &str) -> Result<Arch> {
        match s {
            "x86_64" | "x86-64" | "amd64" => Ok(Arch::X86_64),
            "arm64" | "aarch64" => Ok(Arch::Arm64),
            other => bail!("unknown architecture {other:?}: use x86_64 or arm64 (the template's Architecture values)"),
        }
    }

    /// Lambda's name, as in the template's `Architecture` parameter.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The Rust (and wasmtime) target triple of the `provided.al2023` runtime.
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The architecture of this machine, when it is one Lambda runs.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Arm64),
            _ => None,
        }
    }
}

/// Where `dist` writes, for one architecture.
pub struct Layout {
    pub out: PathBuf,
    pub arch: Arch,
}

impl Layout {
    /// The precompiled plugins the Lambda binaries embed.
    pub fn plugins(&self) -> PathBuf {
        self.out.join(format!("plugins-{}", self.arch.lambda_name()))
    }
    /// `<binary>/bootstrap` per Lambda function.
    pub fn lambda(&self) -> PathBuf {
        self.out.join(self.lambda_rel())
    }
    /// [`Self::lambda`] relative to [`Self::out`] (where the template sits).
    pub fn lambda_rel(&self) -> String {
        format!("lambda-{}", self.arch.lambda_name())
    }
    /// The deployable template.
    pub fn template(&self) -> PathBuf {
        self.out.join("template.yaml")
    }
}

/// `cargo xtask dist ARGS`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let arch = Arch::parse(crate::flag(args, "--arch").unwrap_or("arm64"))?;
    let out = crate::flag(args, "--out").map(PathBuf::from).unwrap_or_else(|| root.join("target/dist"));
    let out = if out.is_absolute() { out } else { std::env::current_dir()?.join(out) };
    let layout = Layout { out, arch };
    let started = Instant::now();
    eprintln!("xtask: dist for {} ({}) into {}", arch.lambda_name(), arch.triple(), layout.out.display());

    ensure_rust_target(arch)?;
    eprintln!("xtask: [1/4] building the built-in plugins");
    crate::build_plugins()?;
    eprintln!("xtask: [2/4] precompiling them for {}", arch.triple());
    let plugins = precompile_plugins(root, &root.join("target/plugins"), &layout)?;
    eprintln!(
        "xtask: [3/4] building the Lambda binaries with cargo-lambda (release; about 50 CPU-minutes from scratch)"
    );
    let bins = build_lambdas(root, &layout)?;
    eprintln!("xtask: [4/4] writing {}", layout.template().display());
    let source = std::fs::read_to_string(root.join("template.yaml")).context("cannot read template.yaml")?;
    let (template, functions) = dist_template(&source, arch, &layout.lambda_rel())?;
    std::fs::write(layout.template(), template)
        .with_context(|| format!("cannot write {}", layout.template().display()))?;

    println!("\ndist for {} in {:.0}s:", arch.lambda_name(), started.elapsed().as_secs_f64());
    println!("  plugins   {}  ({} plugins, {} KB of .cwasm)", layout.plugins().display(), plugins.0, plugins.1 / 1024);
    for (name, (size, zipped)) in &bins {
        let path = layout.lambda().join(name).join("bootstrap");
        println!("  {name:<9} {}  ({:.1} MB, ~{:.1} MB zipped)", path.display(), mb(*size), mb(*zipped));
        if *zipped > LAMBDA_ZIP_LIMIT {
            bail!("{name}: the zipped package would exceed Lambda's 50 MB limit");
        }
    }
    println!("  template  {}", layout.template().display());
    let missing: Vec<String> = functions
        .iter()
        .filter(|(_, bin)| !bins.contains_key(bin.as_str()))
        .map(|(f, bin)| format!("{f} (Binary: {bin})"))
        .collect();
    for (function, bin) in functions.iter().filter(|(_, b)| bins.contains_key(b.as_str())) {
        println!("  {function} -> {}/{bin}", layout.lambda_rel());
    }
    if !missing.is_empty() {
        bail!(
            "template.yaml names binaries that {LAMBDA_PACKAGE} does not build: {}; `sam deploy` would fail",
            missing.join(", ")
        );
    }
    println!(
        "deploy with: deploy/deploy.sh (ARCHITECTURE={}), or sam deploy --template-file {} --guided",
        arch.lambda_name(),
        layout.template().display()
    );
    Ok(())
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Make sure rustup has the architecture's target; add it, or say what to install.
fn ensure_rust_target(arch: Arch) -> Result<()> {
    let triple = arch.triple();
    let listed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    let installed = match listed {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == triple),
        // No rustup: cargo will say whether the target's standard library is there.
        _ => return Ok(()),
    };
    if installed {
        return Ok(());
    }
    eprintln!("xtask: the {triple} target is not installed; running `rustup target add {triple}`");
    let added = Command::new("rustup").args(["target", "add", triple]).status();
    if !added.is_ok_and(|s| s.success()) {
        bail!(
            "building for {} needs the Rust standard library for {triple}, and `rustup target add {triple}` \
             failed. Install it (`rustup target add {triple}`, which needs network access to \
             static.rust-lang.org), or build for the other architecture (`--arch {}`).",
            arch.lambda_name(),
            if arch == Arch::Arm64 { "x86_64" } else { "arm64" }
        );
    }
    Ok(())
}

/// A wasmtime engine for `arch`: the host's configuration, compiling for the target triple.
pub fn engine_for(arch: Arch) -> Result<wasmtime::Engine> {
    let mut config = iam_tracker_engine::config();
    config.target(arch.triple()).map_err(|e| anyhow!("wasmtime cannot target {}: {e}", arch.triple()))?;
    wasmtime::Engine::new(&config).map_err(|e| anyhow!("cannot create the wasmtime engine for {}: {e}", arch.triple()))
}

/// Precompile the components in `components` (what `build-plugins` wrote) for the layout's
/// architecture. Returns the number of plugins and the total `.cwasm` size.
fn precompile_plugins(root: &Path, components: &Path, layout: &Layout) -> Result<(usize, u64)> {
    let ids = crate::builtin_ids(root)?;
    let dir = layout.plugins();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let engine = engine_for(layout.arch)?;
    // On the architecture of this machine, the host must accept the artifacts as they are.
    let host = (Arch::host() == Some(layout.arch))
        .then(iam_tracker_engine::engine)
        .transpose()
        .map_err(|e| anyhow!("cannot create the host's wasmtime engine: {e}"))?;
    let mut manifest = Vec::new();
    let mut total = 0u64;
    for id in &ids {
        let wasm_path = components.join(format!("{id}.wasm"));
        let component = std::fs::read(&wasm_path).with_context(|| format!("cannot read {}", wasm_path.display()))?;
        let t = Instant::now();
        let cwasm = engine
            .precompile_component(&component)
            .map_err(|e| anyhow!("{id}: cannot precompile for {}: {e}", layout.arch.triple()))?;
        if let Some(host) = &host {
            // SAFETY: the bytes were produced just above by wasmtime's own precompiler.
            unsafe { wasmtime::component::Component::deserialize(host, &cwasm) }
                .map_err(|e| anyhow!("{id}: the host engine refuses the precompiled artifact: {e}"))?;
        }
        write_if_changed(&dir.join(format!("{id}.wasm")), &component)?;
        write_if_changed(&dir.join(format!("{id}.cwasm")), &cwasm)?;
        total += cwasm.len() as u64;
        eprintln!(
            "xtask: {id}: {} KB for {} in {} ms",
            cwasm.len() / 1024,
            layout.arch.lambda_name(),
            t.elapsed().as_millis()
        );
        manifest.push(serde_json::json!({"id": id, "wasm": format!("{id}.wasm"), "cwasm": format!("{id}.cwasm")}));
    }
    // Leftovers of plugins no longer in the list would be embedded otherwise.
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        if matches!(path.extension().and_then(|e| e.to_str()), Some("wasm" | "cwasm")) && !ids.contains(&stem) {
            std::fs::remove_file(&path)?;
        }
    }
    let manifest = serde_json::json!({"target": layout.arch.triple(), "plugins": manifest});
    write_if_changed(&dir.join("manifest.json"), serde_json::to_string_pretty(&manifest)?.as_bytes())?;
    Ok((ids.len(), total))
}

/// Write `bytes` to `path` unless it already holds them. `host/build.rs` watches the plugin
/// folder, and cargo rebuilds the host when any file in it is newer: rewriting identical
/// artifacts would cost a full release rebuild of the host on every `dist`.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Build every binary of the Lambda package with cargo-lambda; returns, per binary, the
/// bootstrap's size and its deflated size (what the deployment zip will weigh, roughly).
fn build_lambdas(root: &Path, layout: &Layout) -> Result<BTreeMap<String, (u64, u64)>> {
    let bin = crate::pyvenv::ensure(root, "cargo-lambda-venv", CARGO_LAMBDA, "import ziglang")?;
    let lambda_dir = layout.lambda();
    // Old binaries would otherwise be deployed after a rename.
    if lambda_dir.exists() {
        std::fs::remove_dir_all(&lambda_dir).with_context(|| format!("cannot clear {}", lambda_dir.display()))?;
    }
    let path = std::env::join_paths(
        std::iter::once(bin.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )?;
    let t = Instant::now();
    let status = Command::new(bin.join("cargo-lambda"))
        .current_dir(root)
        // zig comes from the venv (`python -m ziglang`), so the venv's bin goes first.
        .env("PATH", path)
        .env("IAM_TRACKER_PLUGIN_DIST", layout.plugins())
        .args(["lambda", "build", "--release", "--package", LAMBDA_PACKAGE, "--bins", "--target", layout.arch.triple()])
        .arg("--lambda-dir")
        .arg(&lambda_dir)
        .status()
        .context("cannot run cargo-lambda")?;
    if !status.success() {
        bail!("cargo lambda build failed for {}", layout.arch.triple());
    }
    eprintln!("xtask: cargo lambda build took {:.0}s", t.elapsed().as_secs_f64());
    let mut bins = BTreeMap::new();
    for entry in std::fs::read_dir(&lambda_dir).with_context(|| format!("cannot read {}", lambda_dir.display()))? {
        let dir = entry?.path();
        let bootstrap = dir.join("bootstrap");
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        if !bootstrap.is_file() {
            continue;
        }
        let bytes = std::fs::read(&bootstrap).with_context(|| format!("cannot read {}", bootstrap.display()))?;
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&bytes)?;
        let zipped = z.finish()?.len() as u64;
        bins.insert(name, (bytes.len() as u64, zipped));
    }
    if bins.is_empty() {
        bail!("cargo lambda build wrote no bootstrap under {}", lambda_dir.display());
    }
    Ok(bins)
}

/// `template.yaml` made deployable from `dist`'s output: each function's `CodeUri` becomes
/// `<code_dir>/<binary>` (the binary from its `BuildProperties: Binary`), its `Metadata`
/// block (the `rust-cargolambda` build method) is dropped, and the `Architecture` parameter
/// is pinned to `arch`. Returns the text and the (function, binary) pairs.
pub fn dist_template(source: &str, arch: Arch, code_dir: &str) -> Result<(String, Vec<(String, String)>)> {
    let lines: Vec<&str> = source.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let is_key = |l: &str, n: usize| indent(l) == n && !l.trim_start().starts_with('#') && l.trim_end().ends_with(':');
    // Pass 1: the binary of each resource (a key at indent 2 under `Resources:`).
    let mut binaries: BTreeMap<String, String> = BTreeMap::new();
    let mut section = "";
    let mut resource = String::new();
    for l in &lines {
        if indent(l) == 0 && !l.trim().is_empty() && !l.starts_with('#') {
            section = l.trim_end().trim_end_matches(':');
        } else if section == "Resources" && is_key(l, 2) {
            resource = l.trim().trim_end_matches(':').to_string();
        } else if section == "Resources" {
            if let Some(b) = l.trim().strip_prefix("Binary:") {
                binaries.insert(resource.clone(), b.trim().trim_matches('"').to_string());
            }
        }
    }
    // Pass 2: rewrite.
    let mut out = vec![
        format!(
            "# Generated by `cargo xtask dist --arch {}` from template.yaml: do not edit, edit template.yaml.",
            arch.lambda_name()
        ),
        format!("# CodeUri points at the built bootstraps under {code_dir}/; Architecture is pinned to them."),
    ];
    let mut functions = Vec::new();
    let mut section = "";
    let mut resource = String::new();
    let mut parameter = String::new();
    let mut skip_below: Option<usize> = None;
    let mut arch_pinned = 0;
    for l in &lines {
        if let Some(n) = skip_below {
            if l.trim().is_empty() || indent(l) > n {
                continue;
            }
            skip_below = None;
        }
        if indent(l) == 0 && !l.trim().is_empty() && !l.starts_with('#') {
            section = l.trim_end().trim_end_matches(':');
        } else if section == "Resources" && is_key(l, 2) {
            resource = l.trim().trim_end_matches(':').to_string();
        } else if section == "Parameters" && is_key(l, 2) {
            parameter = l.trim().trim_end_matches(':').to_string();
        }
        if section == "Resources" && binaries.contains_key(&resource) && is_key(l, 4) && l.trim() == "Metadata:" {
            skip_below = Some(4);
            continue;
        }
        if section == "Resources" && indent(l) == 6 && l.trim_start().starts_with("CodeUri:") {
            let bin = binaries.get(&resource).ok_or_else(|| {
                anyhow!("{resource} has a CodeUri but no `BuildProperties: Binary` naming its binary")
            })?;
            out.push(format!("      CodeUri: {code_dir}/{bin}"));
            functions.push((resource.clone(), bin.clone()));
            continue;
        }
        if section == "Parameters" && parameter == "Architecture" && indent(l) == 4 {
            if l.trim_start().starts_with("Default:") {
                out.push(format!("    Default: {}", arch.lambda_name()));
                arch_pinned += 1;
                continue;
            }
            if l.trim_start().starts_with("AllowedValues:") {
                out.push(format!("    AllowedValues: [{}]", arch.lambda_name()));
                arch_pinned += 1;
                continue;
            }
        }
        out.push(l.to_string());
    }
    if arch_pinned != 2 {
        bail!("template.yaml has no Architecture parameter with a Default and AllowedValues to pin");
    }
    if functions.len() != binaries.len() {
        bail!("every function with a `BuildProperties: Binary` needs a `CodeUri` line (found {functions:?})");
    }
    if functions.is_empty() {
        bail!("template.yaml has no function built with rust-cargolambda");
    }
    Ok((out.join("\n") + "\n", functions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_map_to_lambda_names_and_triples() {
        assert_eq!(Arch::parse("x86_64").expect("x86_64"), Arch::X86_64);
        assert_eq!(Arch::parse("arm64").expect("arm64"), Arch::Arm64);
        assert_eq!(Arch::parse("aarch64").expect("aarch64"), Arch::Arm64);
        assert_eq!(Arch::X86_64.triple(), "x86_64-unknown-linux-gnu");
        assert_eq!(Arch::Arm64.triple(), "aarch64-unknown-linux-gnu");
        assert_eq!(Arch::X86_64.lambda_name(), "x86_64");
        assert_eq!(Arch::Arm64.lambda_name(), "arm64");
        let e = Arch::parse("riscv64").expect_err("not a Lambda architecture");
        assert!(e.to_string().contains("x86_64 or arm64"), "{e}");
        // The template offers exactly the architectures dist can build.
        let template = include_str!("../../template.yaml");
        assert!(template.contains("AllowedValues: [arm64, x86_64]"), "template's Architecture values changed");
    }

    #[test]
    fn both_engines_precompile_a_component_and_the_host_accepts_its_own_architecture() {
        // The smallest component: wasmtime must be able to target both Lambda architectures.
        let component = wit_component::ComponentEncoder::default()
            .module(b"\0asm\x01\0\0\0")
            .expect("module")
            .encode()
            .expect("component");
        for arch in [Arch::X86_64, Arch::Arm64] {
            let cwasm = engine_for(arch).expect("engine").precompile_component(&component).expect("precompile");
            // Deterministic, so an unchanged plugin leaves its artifact (and the host build) alone.
            let again = engine_for(arch).expect("engine").precompile_component(&component).expect("precompile");
            assert!(cwasm == again, "{arch:?}: precompiling twice gave different bytes");
            let host = iam_tracker_engine::engine().expect("host engine");
            // SAFETY: bytes from wasmtime's own precompiler.
            let loaded = unsafe { wasmtime::component::Component::deserialize(&host, &cwasm) };
            assert_eq!(loaded.is_ok(), Arch::host() == Some(arch), "{arch:?}: {:?}", loaded.err());
        }
    }

    #[test]
    fn the_dist_template_points_each_function_at_its_bootstrap_and_pins_the_architecture() {
        let source = include_str!("../../template.yaml");
        let (out, functions) = dist_template(source, Arch::X86_64, "lambda-x86_64").expect("rewrite");
        assert!(functions.contains(&("TrackerFunction".to_string(), "tracker".to_string())), "{functions:?}");
        assert!(out.contains("      CodeUri: lambda-x86_64/tracker\n"), "tracker CodeUri");
        assert!(!out.contains("CodeUri: .\n"), "every CodeUri rewritten");
        assert!(!out.contains("BuildMethod") && !out.contains("BuildProperties"), "build metadata dropped");
        assert!(out.contains("    Default: x86_64\n    AllowedValues: [x86_64]\n"), "architecture pinned");
        // Nothing else changes: the same lines minus the 4 metadata lines per function, plus the header.
        assert_eq!(out.lines().count(), source.lines().count() - 4 * functions.len() + 2);
        for l in source.lines().filter(|l| l.contains("Resource:") || l.contains("!Ref") || l.contains("Sid:")) {
            assert!(out.lines().any(|o| o == l), "line lost: {l}");
        }
    }

    #[test]
    fn a_function_without_a_binary_or_a_template_without_the_parameter_is_refused() {
        let t =
            "Parameters:\n  Architecture:\n    Type: String\n    Default: arm64\n    AllowedValues: [arm64, x86_64]\n\
                 Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: .\n";
        let e = dist_template(t, Arch::Arm64, "lambda-arm64").expect_err("no binary");
        assert!(e.to_string().contains("F has a CodeUri but no `BuildProperties: Binary`"), "{e}");
        let t = "Resources:\n  F:\n    Metadata:\n      BuildMethod: rust-cargolambda\n      BuildProperties:\n\
                 \x20       Binary: f\n    Properties:\n      CodeUri: .\n";
        let e = dist_template(t, Arch::Arm64, "lambda-arm64").expect_err("no parameter");
        assert!(e.to_string().contains("no Architecture parameter"), "{e}");
    }
}
