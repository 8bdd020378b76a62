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
//! (`$IAM_TRACKER_MOTO` overrides the executable for the tests). The analytics tests'
//! sqlglot ([`SQLGLOT_VERSION`]) is installed into the same venv.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// The moto release the tests are pinned to (PyPI).
pub const MOTO_VERSION: &str = "5.2.5";

/// The sqlglot release the analytics tests parse every Athena text with, as Trino SQL (PyPI).
/// It shares the test venv: the tests find both through `target/moto-venv`.
pub const SQLGLOT_VERSION: &str = "30.30.0";

/// Make sure `target/moto-venv` has moto [`MOTO_VERSION`] with the server extras and sqlglot
/// [`SQLGLOT_VERSION`]; returns the `moto_server` path.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    let probe = format!(
        "import importlib.metadata as m, moto.server, sqlglot; assert m.version('moto') == '{MOTO_VERSION}'; \
         assert sqlglot.__version__ == '{SQLGLOT_VERSION}', sqlglot.__version__"
    );
    let packages = [format!("moto[server]=={MOTO_VERSION}"), format!("sqlglot=={SQLGLOT_VERSION}")];
    let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
    let bin = crate::pyvenv::ensure(root, "moto-venv", &packages, &probe)?;
    let server = bin.join("moto_server");
    if !server.exists() {
        bail!("{} has moto {MOTO_VERSION} but no moto_server", bin.display());
    }
    Ok(server)
}
