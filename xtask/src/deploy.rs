//! `cargo xtask validate-template`: the SAM template, checked offline in two steps.
//!
//! cfn-lint 1.x checks SAM resources against a schema but does not run the SAM transform, so
//! a bad runtime, a broken `!Ref` inside a function's environment or policies, or a malformed
//! schedule pass it. The template is therefore expanded first with `samtranslator`
//! (`deploy/sam2cfn.py`, no AWS call) and the resulting CloudFormation is linted. Both tools
//! are pinned and installed into `target/deploy-venv`. The project's own checks (environment
//! both ways, least privilege, alarm actions, bucket hardening) are the tests in
//! `lambda/tests/template.rs`, which `cargo test --workspace` runs.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Pinned validation tools (PyPI).
pub const TOOLS: &[&str] = &["cfn-lint==1.58.0", "aws-sam-translator==1.115.0"];

/// Expand `template.yaml` with samtranslator, then cfn-lint the result.
pub fn validate_template(root: &Path) -> Result<()> {
    let bin = crate::pyvenv::ensure(root, "deploy-venv", TOOLS, "import samtranslator, cfnlint")?;
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
