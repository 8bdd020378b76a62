//! Python tools the tests and checks need, each in its own venv under the workspace root's
//! `target/` (whatever `CARGO_TARGET_DIR` says, because that is where the tests look), with
//! pinned versions from PyPI. Nothing global is touched, and an install is skipped when the
//! venv already passes its probe.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Make sure `target/<name>` is a venv with `packages` installed (`probe`, a Python snippet,
/// must succeed in it afterwards); returns its `bin/`.
pub fn ensure(root: &Path, name: &str, packages: &[&str], probe: &str) -> Result<PathBuf> {
    let venv = root.join("target").join(name);
    let bin = venv.join("bin");
    let python = bin.join("python");
    let ok = |python: &Path| Command::new(python).args(["-c", probe]).output().is_ok_and(|o| o.status.success());
    if ok(&python) {
        eprintln!("xtask: {} already installed in {}", packages.join(" "), venv.display());
        return Ok(bin);
    }
    if !bin.join("pip").exists() {
        let py = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
        let status = Command::new(&py).args(["-m", "venv"]).arg(&venv).status().context("cannot run python3")?;
        if !status.success() {
            bail!("`python3 -m venv {}` failed (apt-get install -y python3-venv)", venv.display());
        }
    }
    eprintln!("xtask: installing {} into {}", packages.join(" "), venv.display());
    let status = Command::new(bin.join("pip"))
        .env_remove("PIP_REQUIRE_VIRTUALENV")
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(packages)
        .status()
        .context("cannot run pip from the venv")?;
    if !status.success() || !ok(&python) {
        bail!("installing {} into {} failed (PyPI must be reachable)", packages.join(" "), venv.display());
    }
    Ok(bin)
}
