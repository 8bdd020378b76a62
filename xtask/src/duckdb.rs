//! `cargo xtask duckdb`: install DuckDB's prebuilt shared library for the `local-sql` feature.
//!
//! `iam-tracker query run --engine local` embeds DuckDB through the `duckdb` crate. Compiling
//! DuckDB's C++ from source (the crate's `bundled` feature, our `local-sql-bundled`) costs
//! about one CPU-hour, so the default build links DuckDB [`DUCKDB_VERSION`]'s official shared
//! library instead. DuckDB publishes it on the npm registry, in the platform packages of its
//! Node bindings (`@duckdb/node-bindings-<platform>`, which carry `libduckdb.so` beside the
//! Node addon). This command fetches that package with `npm pack` (npm checks the registry's
//! integrity hash) and keeps only the library, in `target/duckdb/` under the workspace root,
//! where `.cargo/config.toml` points `DUCKDB_LIB_DIR`. Idempotent: a present library of the
//! right version is left alone.
//!
//! The crate version is pinned to the same DuckDB release (`duckdb = "=1.10506.0"` is DuckDB
//! 1.5.6), because the crate's C API bindings are generated for that release.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The DuckDB release the `duckdb` crate pin (host/Cargo.toml) was generated for.
pub const DUCKDB_VERSION: &str = "1.5.6";
/// The npm release of the bindings package that carries that library.
const NPM_VERSION: &str = "1.5.6-r.1";

/// The npm platform package and library file name for this machine.
fn platform() -> Result<(&'static str, &'static str)> {
    Ok(match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => ("linux-x64", "libduckdb.so"),
        ("linux", "aarch64") => ("linux-arm64", "libduckdb.so"),
        ("macos", "aarch64") => ("darwin-arm64", "libduckdb.dylib"),
        ("macos", "x86_64") => ("darwin-x64", "libduckdb.dylib"),
        (os, arch) => bail!(
            "no prebuilt DuckDB library for {os}/{arch}: build with `--features local-sql-bundled` \
             (compiles DuckDB) or without `local-sql` (`--no-default-features --features aws`)"
        ),
    })
}

/// Make sure `target/duckdb/` holds DuckDB [`DUCKDB_VERSION`]'s library; returns the directory.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    let dir = root.join("target/duckdb");
    let (platform, lib) = platform()?;
    let stamp = dir.join("VERSION");
    if dir.join(lib).exists() && std::fs::read_to_string(&stamp).is_ok_and(|v| v.trim() == DUCKDB_VERSION) {
        eprintln!("xtask: DuckDB {DUCKDB_VERSION} library already in {}", dir.display());
        return Ok(dir);
    }
    let package = format!("@duckdb/node-bindings-{platform}@{NPM_VERSION}");
    eprintln!("xtask: fetching DuckDB {DUCKDB_VERSION}'s {lib} from the npm registry ({package})");
    let tmp = root.join("target/duckdb.download");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let out = Command::new("npm")
        .current_dir(&tmp)
        .args(["pack", "--silent", &package])
        .output()
        .context("cannot run npm (it fetches DuckDB's prebuilt library; install Node.js and npm)")?;
    if !out.status.success() {
        bail!(
            "`npm pack {package}` failed (the npm registry must be reachable): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tarball = String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap_or_default().to_string();
    if tarball.is_empty() {
        bail!("`npm pack {package}` named no tarball");
    }
    let status = Command::new("tar")
        .current_dir(&tmp)
        .args(["xzf", &tarball, &format!("package/{lib}"), "package/LICENSE"])
        .status()
        .context("cannot run tar")?;
    if !status.success() {
        bail!("{tarball} has no package/{lib}");
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for name in [lib, "LICENSE"] {
        let to = dir.join(name);
        std::fs::rename(tmp.join("package").join(name), &to)
            .with_context(|| format!("cannot write {}", to.display()))?;
    }
    std::fs::write(&stamp, format!("{DUCKDB_VERSION}\n"))?;
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!("xtask: DuckDB {DUCKDB_VERSION} library in {}", dir.display());
    Ok(dir)
}
