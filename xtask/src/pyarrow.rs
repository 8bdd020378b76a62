//! `cargo xtask pyarrow`: install the independent Parquet readers the export tests and the
//! export benchmark use.
//!
//! The interoperability test (`host/tests/it/export.rs`) reads the exported files back with
//! pyarrow and DuckDB, and `cargo xtask bench-export` times the original's pandas + pyarrow
//! writer. This command creates `target/arrow-venv` under the workspace root with
//! `python3 -m venv` (or `$PYTHON`) and `pip install`s the pinned versions ([`PACKAGES`]);
//! nothing global is touched. It is idempotent: when the venv already imports those
//! versions it does nothing.
//!
//! The venv is always under the workspace root's `target/`, whatever `CARGO_TARGET_DIR`
//! says, because that is where the tests look for it (`$IAM_TRACKER_ARROW_PYTHON` overrides
//! the interpreter for the tests).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The pinned PyPI packages: (name, version, import name).
pub const PACKAGES: &[(&str, &str, &str)] =
    &[("pyarrow", "26.0.1", "pyarrow"), ("pandas", "3.1.1", "pandas"), ("duckdb", "2.0.0", "duckdb")];

/// `<root>/target/arrow-venv`.
pub fn venv_dir(root: &Path) -> PathBuf {
    root.join("target").join("arrow-venv")
}

/// Make sure `target/arrow-venv` has [`PACKAGES`]; returns its `python`.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    let venv = venv_dir(root);
    let python = venv.join("bin").join("python");
    if installed(&python) {
        eprintln!("xtask: pyarrow, pandas and duckdb already installed in {}", venv.display());
        return Ok(python);
    }
    let system_python: OsString = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    if !venv.join("bin").join("pip").exists() {
        eprintln!("xtask: creating a Python venv at {}", venv.display());
        let status = Command::new(&system_python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .with_context(|| format!("cannot run {} (install Python 3.10+)", system_python.to_string_lossy()))?;
        if !status.success() {
            bail!(
                "`{} -m venv {}` failed; on Debian/Ubuntu install the venv module: apt-get install -y python3-venv",
                system_python.to_string_lossy(),
                venv.display()
            );
        }
    }
    let specs: Vec<String> = PACKAGES.iter().map(|(n, v, _)| format!("{n}=={v}")).collect();
    eprintln!("xtask: installing {} from PyPI into {}", specs.join(" "), venv.display());
    let t = Instant::now();
    let status = Command::new(venv.join("bin").join("pip"))
        .env_remove("PIP_REQUIRE_VIRTUALENV")
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(&specs)
        .status()
        .context("cannot run pip from the venv")?;
    if !status.success() {
        bail!("`pip install {}` failed (PyPI must be reachable)", specs.join(" "));
    }
    if !installed(&python) {
        bail!("{} does not import the pinned {} after the install", venv.display(), specs.join(" "));
    }
    eprintln!("xtask: installed in {:.1}s ({})", t.elapsed().as_secs_f64(), python.display());
    Ok(python)
}

/// Whether `python` imports every package at its pinned version.
fn installed(python: &Path) -> bool {
    let check = PACKAGES
        .iter()
        .map(|(_, v, m)| format!("import {m}; assert {m}.__version__ == '{v}', {m}.__version__"))
        .collect::<Vec<_>>()
        .join("; ");
    Command::new(python).args(["-c", &check]).output().is_ok_and(|o| o.status.success())
}
