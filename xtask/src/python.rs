//! `cargo xtask build-py-plugin [PATH] [--out DIR]`: build a detector plugin written in
//! Python with componentize-py, then precompile it with the host's engine.
//!
//! A Python plugin folder holds `src/<id with underscores>.py` (the app module, which
//! defines `class Detection(exports.Detection)`); the folder name is the plugin id. The
//! build:
//!
//! 1. finds componentize-py [`COMPONENTIZE_PY_VERSION`]: `$COMPONENTIZE_PY`, else
//!    `target/py-venv/bin/componentize-py`, else one on `PATH`, each only if it reports
//!    exactly that version; otherwise it creates `target/py-venv` with `python3 -m venv`
//!    and `pip install`s the pinned version from PyPI (nothing global is touched);
//! 2. runs `componentize-py -d wit -w detector componentize --stub-wasi`, so the component
//!    imports nothing but `iam-tracker:plugin/*` (WASI imports become trapping stubs);
//! 3. precompiles `<out>/<id>.cwasm` with `iam_tracker_engine::engine()`, the same engine
//!    config the host uses, and checks the component's imports like the host does.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

/// The componentize-py release the build is pinned to (PyPI).
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
/// The example plugin built when no PATH is given (relative to the workspace root).
pub const DEFAULT_PATH: &str = "examples/plugins/console-login-without-mfa";
/// The WIT world Python detectors target.
const WORLD: &str = "detector";
/// Interfaces a plugin may import (the host's rule, host/src/plugin/mod.rs).
const ALLOWED_IMPORT_PREFIX: &str = "iam-tracker:plugin/";

/// Build the Python plugin at `path` into `out/<id>.wasm` and `out/<id>.cwasm`.
pub fn build_py_plugin(root: &Path, path: &Path, out: &Path) -> Result<()> {
    let started = Instant::now();
    let path = absolute(path)?;
    let id = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{}: cannot take the plugin id from the folder name", path.display()))?
        .to_string();
    let valid = !id.is_empty()
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && id.starts_with(|c: char| c.is_ascii_lowercase());
    if !valid {
        bail!("{}: the folder name {id:?} is the plugin id: use lowercase letters, digits and dashes", path.display());
    }
    let module = id.replace('-', "_");
    let src = path.join("src");
    let app = src.join(format!("{module}.py"));
    if !app.is_file() {
        bail!("{}: no app module (expected {})", path.display(), app.display());
    }
    let wit = root.join("wit");

    let tool = componentize_py(root)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let wasm_path = out.join(format!("{id}.wasm"));
    let cwasm_path = out.join(format!("{id}.cwasm"));
    let tmp_path = out.join(format!(".{id}.wasm.tmp"));
    // Never leave a .cwasm beside a .wasm it was not compiled from.
    remove_if_exists(&cwasm_path)?;
    remove_if_exists(&tmp_path)?;

    eprintln!("xtask: {id}: componentize-py {COMPONENTIZE_PY_VERSION} (world `{WORLD}`, --stub-wasi) ...");
    let t = Instant::now();
    let status = Command::new(&tool)
        // componentize-py adds $VIRTUAL_ENV's site-packages to the app's path: build
        // from the plugin's own src/ only.
        .env_remove("VIRTUAL_ENV")
        // A Python error in the app would otherwise come with the tool's own Rust backtrace.
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .arg("-d")
        .arg(&wit)
        .args(["-w", WORLD, "--quiet", "componentize", "--stub-wasi", "-p"])
        .arg(&src)
        .arg(&module)
        .arg("-o")
        .arg(&tmp_path)
        .status()
        .with_context(|| format!("cannot run {}", tool.display()))?;
    if !status.success() {
        let _ = std::fs::remove_file(&tmp_path);
        bail!("{id}: componentize-py failed ({status})");
    }
    let component = std::fs::read(&tmp_path).with_context(|| format!("cannot read {}", tmp_path.display()))?;
    eprintln!("xtask: {id}: component {:.1} MB in {:.1}s", component.len() as f64 / 1e6, t.elapsed().as_secs_f64());

    eprintln!("xtask: {id}: precompiling with the host's engine config ...");
    let engine = iam_tracker_engine::engine().map_err(|e| anyhow!("cannot create the wasmtime engine: {e}"))?;
    let t = Instant::now();
    let cwasm =
        engine.precompile_component(&component).map_err(|e| anyhow!("{id}: cannot precompile component: {e}"))?;
    let precompile = t.elapsed();
    check_imports(&engine, &cwasm, &id)?;
    std::fs::write(&cwasm_path, &cwasm).with_context(|| format!("cannot write {}", cwasm_path.display()))?;
    std::fs::rename(&tmp_path, &wasm_path).with_context(|| format!("cannot write {}", wasm_path.display()))?;
    eprintln!(
        "xtask: {id}: component {} KB, precompiled {} KB in {} ms",
        component.len() / 1024,
        cwasm.len() / 1024,
        precompile.as_millis()
    );
    eprintln!("xtask: {id}: built in {:.1}s", started.elapsed().as_secs_f64());
    eprintln!("xtask: load it with: iam-tracker detect --plugin-dir {} EVENTS...", out.display());
    eprintln!(
        "xtask: test it with: iam-tracker plugins test {} --cases {}",
        out.display(),
        path.join("cases").display()
    );
    Ok(())
}

/// Refuse a component that imports anything but our own interfaces (the host would too).
fn check_imports(engine: &wasmtime::Engine, cwasm: &[u8], id: &str) -> Result<()> {
    // SAFETY: `cwasm` was produced a moment ago by `precompile_component` on this very
    // engine; it is not read from anywhere else.
    let component = unsafe { wasmtime::component::Component::deserialize(engine, cwasm) }
        .map_err(|e| anyhow!("{id}: cannot load the precompiled component: {e}"))?;
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_string()).collect();
    if let Some(bad) = imports.iter().find(|i| !i.starts_with(ALLOWED_IMPORT_PREFIX)) {
        bail!("{id}: the component imports `{bad}`; plugins may import only {ALLOWED_IMPORT_PREFIX}* (was --stub-wasi lost?)");
    }
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    eprintln!("xtask: {id}: imports {}; exports {}", imports.join(", "), exports.join(", "));
    Ok(())
}

/// componentize-py at the pinned version: found, or installed into `target/py-venv`.
fn componentize_py(root: &Path) -> Result<PathBuf> {
    let venv = target_dir(root).join("py-venv");
    let venv_tool = venv.join("bin").join("componentize-py");
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("COMPONENTIZE_PY") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(venv_tool.clone());
    candidates.push(PathBuf::from("componentize-py"));
    for candidate in &candidates {
        match tool_version(candidate) {
            Some(v) if v == COMPONENTIZE_PY_VERSION => {
                eprintln!("xtask: using componentize-py {v} at {}", candidate.display());
                return Ok(candidate.clone());
            }
            Some(v) => eprintln!(
                "xtask: ignoring componentize-py {v} at {} (want {COMPONENTIZE_PY_VERSION})",
                candidate.display()
            ),
            None => {}
        }
    }

    let python: OsString = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    if !venv.join("bin").join("pip").exists() {
        eprintln!("xtask: creating a Python venv at {}", venv.display());
        let status = Command::new(&python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .with_context(|| format!("cannot run {} (install Python 3.9+)", python.to_string_lossy()))?;
        if !status.success() {
            bail!(
                "`{} -m venv {}` failed; on Debian/Ubuntu install the venv module: apt-get install -y python3-venv",
                python.to_string_lossy(),
                venv.display()
            );
        }
    }
    eprintln!("xtask: installing componentize-py=={COMPONENTIZE_PY_VERSION} from PyPI into {}", venv.display());
    let t = Instant::now();
    let status = Command::new(venv.join("bin").join("pip"))
        .env_remove("PIP_REQUIRE_VIRTUALENV")
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("componentize-py=={COMPONENTIZE_PY_VERSION}"))
        .status()
        .context("cannot run pip from the venv")?;
    if !status.success() {
        bail!("`pip install componentize-py=={COMPONENTIZE_PY_VERSION}` failed (PyPI must be reachable)");
    }
    match tool_version(&venv_tool) {
        Some(v) if v == COMPONENTIZE_PY_VERSION => {
            eprintln!("xtask: installed componentize-py {v} in {:.1}s", t.elapsed().as_secs_f64());
            Ok(venv_tool)
        }
        other => bail!("{} reports version {other:?} after install", venv_tool.display()),
    }
}

/// `TOOL --version` → `0.25.1`, or None when it cannot run.
fn tool_version(tool: &Path) -> Option<String> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    // "componentize-py 0.25.1"
    String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).map(str::to_string)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"))
}

fn absolute(path: &Path) -> Result<PathBuf> {
    let abs = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir()?.join(path) };
    if !abs.is_dir() {
        bail!("{}: no such plugin folder", abs.display());
    }
    Ok(abs)
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}
