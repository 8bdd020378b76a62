//! `cargo xtask moto`: install the local AWS emulator the integration tests run against.
//!
//! The S3 tests of the trail-file source (and later the DynamoDB/SNS ones) start a moto
//! server (PyPI `moto[server]` [`MOTO_VERSION`]) on 127.0.0.1. This command creates
//! `target/moto-venv` under the workspace root with `python3 -m venv` (or `$PYTHON`) and
//! `pip install`s the pinned version into it; nothing global is touched. It is idempotent:
//! when the venv already has that version (with the server extras importable) it does
//! nothing.
//!
//! The venv is always under the workspace root's `target/`, whatever `CARGO_TARGET_DIR`
//! says, because that is where the tests look for `target/moto-venv/bin/moto_server`
//! (`$IAM_TRACKER_MOTO` overrides the executable for the tests).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The moto release the tests are pinned to (PyPI).
pub const MOTO_VERSION: &str = "5.2.5";

/// `<root>/target/moto-venv`.
pub fn venv_dir(root: &Path) -> PathBuf {
    root.join("target").join("moto-venv")
}

/// Make sure `target/moto-venv` has moto [`MOTO_VERSION`]; returns the `moto_server` path.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    let venv = venv_dir(root);
    let server = venv.join("bin").join("moto_server");
    let python = venv.join("bin").join("python");
    match installed_version(&python) {
        Some(v) if v == MOTO_VERSION && server.exists() => {
            eprintln!("xtask: moto {v} already installed in {}", venv.display());
            return Ok(server);
        }
        Some(v) => eprintln!("xtask: {} has moto {v}; installing {MOTO_VERSION}", venv.display()),
        None => {}
    }

    let system_python: OsString = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    if !venv.join("bin").join("pip").exists() {
        eprintln!("xtask: creating a Python venv at {}", venv.display());
        let status = Command::new(&system_python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .with_context(|| format!("cannot run {} (install Python 3.9+)", system_python.to_string_lossy()))?;
        if !status.success() {
            bail!(
                "`{} -m venv {}` failed; on Debian/Ubuntu install the venv module: apt-get install -y python3-venv",
                system_python.to_string_lossy(),
                venv.display()
            );
        }
    }
    eprintln!("xtask: installing moto[server]=={MOTO_VERSION} from PyPI into {}", venv.display());
    let t = Instant::now();
    let status = Command::new(venv.join("bin").join("pip"))
        .env_remove("PIP_REQUIRE_VIRTUALENV")
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("moto[server]=={MOTO_VERSION}"))
        .status()
        .context("cannot run pip from the venv")?;
    if !status.success() {
        bail!("`pip install moto[server]=={MOTO_VERSION}` failed (PyPI must be reachable)");
    }
    match installed_version(&python) {
        Some(v) if v == MOTO_VERSION && server.exists() => {
            eprintln!("xtask: installed moto {v} in {:.1}s ({})", t.elapsed().as_secs_f64(), server.display());
            Ok(server)
        }
        other => bail!("{} reports moto {other:?} after install (or has no moto_server)", venv.display()),
    }
}

/// The moto version the venv's Python imports, with the server extras; `None` when it
/// cannot (no venv, no moto, or `moto.server` fails to import, e.g. flask missing).
fn installed_version(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import importlib.metadata as m, moto.server; print(m.version('moto'))"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
