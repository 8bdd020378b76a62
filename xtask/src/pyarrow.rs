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

use std::path::{Path, PathBuf};

use anyhow::Result;

/// The pinned PyPI packages: (name, version, import name).
pub const PACKAGES: &[(&str, &str, &str)] =
    &[("pyarrow", "26.0.1", "pyarrow"), ("pandas", "3.1.1", "pandas"), ("duckdb", "2.0.0", "duckdb")];

/// Make sure `target/arrow-venv` has [`PACKAGES`]; returns its `python`.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    let specs: Vec<String> = PACKAGES.iter().map(|(n, v, _)| format!("{n}=={v}")).collect();
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let bin = crate::pyvenv::ensure(root, "arrow-venv", &specs, &probe())?;
    Ok(bin.join("python"))
}

/// A Python snippet that fails unless every package imports at its pinned version.
fn probe() -> String {
    PACKAGES
        .iter()
        .map(|(_, v, m)| format!("import {m}; assert {m}.__version__ == '{v}', {m}.__version__"))
        .collect::<Vec<_>>()
        .join("; ")
}
