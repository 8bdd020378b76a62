//! `cargo xtask validate-template`: the SAM template, checked offline in two steps.
//!
//! cfn-lint 1.x checks SAM resources against a schema but does not run the SAM transform, so
//! a bad runtime, a broken `!Ref` inside a function's environment or policies, or a malformed
//! schedule pass it. The template is therefore expanded first with `samtranslator`
//! (`deploy/sam2cfn.py`, no AWS call) and the resulting CloudFormation is linted. Both tools
//! are pinned and installed into `target/deploy-venv`. The project's own checks (environment
//! both ways, least privilege, alarm actions, bucket hardening) are the tests in
//! `lambda/tests/template.rs`, which `cargo test --workspace` runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Pinned validation tools (PyPI).
pub const TOOLS: &[&str] = &["cfn-lint==1.58.0", "aws-sam-translator==1.115.0"];

/// Make sure `target/<name>` is a venv with `packages` installed; returns its `bin/`.
pub fn venv(root: &Path, name: &str, packages: &[&str], probe: &str) -> Result<PathBuf> {
    let venv = root.join("target").join(name);
    let bin = venv.join("bin");
    let python = bin.join("python");
    let ok = |python: &Path| Command::new(python).args(["-c", probe]).output().is_ok_and(|o| o.status.success());
    if ok(&python) {
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

/// Expand `template.yaml` with samtranslator, then cfn-lint the result.
pub fn validate_template(root: &Path) -> Result<()> {
    let bin = venv(root, "deploy-venv", TOOLS, "import samtranslator, cfnlint")?;
    let out = root.join("target").join("template.expanded.json");
    let status = Command::new(bin.join("python"))
        .current_dir(root)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .arg("deploy/sam2cfn.py")
        .arg("template.yaml")
        .arg(&out)
        .status()
        .context("cannot run deploy/sam2cfn.py")?;
    if !status.success() {
        bail!("the SAM transform rejected template.yaml (see above)");
    }
    for (what, file) in [("template.yaml", root.join("template.yaml")), ("the expanded template", out.clone())] {
        let status = Command::new(bin.join("cfn-lint"))
            .current_dir(root)
            .arg("--")
            .arg(&file)
            .status()
            .context("cannot run cfn-lint")?;
        if !status.success() {
            bail!("cfn-lint found problems in {what} ({})", file.display());
        }
    }
    eprintln!("xtask: template.yaml expands and lints cleanly ({})", out.display());
    Ok(())
}
