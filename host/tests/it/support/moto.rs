//! One moto server (the local AWS emulator, PyPI `moto[server]`) per test process, on
//! 127.0.0.1 with a free port, shared by every test that needs AWS.
//!
//! - The executable is `$IAM_TRACKER_MOTO` if set, else `target/moto-venv/bin/moto_server`
//!   under the workspace root, which `cargo xtask moto` installs (`cargo xtask test` runs
//!   it). Without one, the test fails and says to run `cargo xtask moto`: these tests are
//!   never skipped silently.
//! - Readiness is polled (`GET /moto-api/` answering 200), not slept for.
//! - Stopping: the server is spawned from a thread that waits on it for the life of the
//!   process, with the Linux parent-death signal (`PR_SET_PDEATHSIG`, SIGTERM) set in the
//!   child, so the kernel stops it when the test process ends in any way, `SIGKILL`
//!   included. An `atexit` hook also sends SIGTERM on a normal exit (the only way on other
//!   Unixes).
//! - `$IAM_TRACKER_MOTO_URL`, when set (CI: `.ci/run` starts one server for the whole run),
//!   names a running server to use instead of starting one; it must answer within the
//!   readiness timeout or the test fails.
//! - Tests never reset the shared server: each uses its own names ([`unique_name`]).
//!
//! Code under test gets its SDK config from [`sdk_config`]: static test credentials, an
//! explicit region and the server's endpoint, so nothing comes from the environment and
//! nothing leaves 127.0.0.1.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The env var naming a `moto_server` executable to use instead of the venv's.
pub const MOTO_ENV: &str = "IAM_TRACKER_MOTO";
/// The env var naming a running server (`http://127.0.0.1:PORT`) to use instead of starting one.
pub const MOTO_URL_ENV: &str = "IAM_TRACKER_MOTO_URL";
/// How long a starting server may take to answer (Python imports on a loaded machine).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The running server.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
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

/// The shared server, started on first use. Panics (failing the test) when moto is not
/// installed or does not come up.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| match std::env::var(MOTO_URL_ENV) {
        Ok(url) if !url.is_empty() => external(url),
        _ => start(),
    })
}

/// A server someone else started (`$IAM_TRACKER_MOTO_URL`), once it answers.
fn external(url: String) -> Moto {
    let port: u16 =
        url.strip_prefix("http://127.0.0.1:").and_then(|p| p.trim_end_matches('/').parse().ok()).unwrap_or_else(|| {
            panic!("${MOTO_URL_ENV} must be http://127.0.0.1:PORT (tests reach only loopback), not {url}")
        });
    let deadline = Instant::now() + READY_TIMEOUT;
    while !ready(port) {
        assert!(Instant::now() < deadline, "moto at {url} (${MOTO_URL_ENV}) did not answer within {READY_TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { endpoint: format!("http://127.0.0.1:{port}") }
}

/// A name no other test (or earlier run against the same server) uses: lowercase, valid
/// as an S3 bucket, DynamoDB table or SNS topic name.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), nanos % 1_000_000_000)
        .to_ascii_lowercase()
}

/// An SDK config for the shared server: static `test` credentials, `us-east-1`, the
/// server's endpoint.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let m = moto();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "static"))
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&m.endpoint)
        .load()
        .await
}

fn executable() -> PathBuf {
    if let Some(p) = std::env::var_os(MOTO_ENV) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "${MOTO_ENV} is {} but that is not a file; unset it or run `cargo xtask moto`",
            p.display()
        );
        return p;
    }
    let p = crate::support::root().join("target/moto-venv/bin/moto_server");
    assert!(
        p.is_file(),
        "moto is not installed: run `cargo xtask moto` (installs moto[server] into target/moto-venv), \
         or set ${MOTO_ENV} to a moto_server executable; looked for {}",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port on 127.0.0.1");
    l.local_addr().expect("local addr").port()
}

enum Event {
    Spawned(u32),
    SpawnFailed(String),
    Exited(std::io::Result<ExitStatus>),
}

fn start() -> Moto {
    let exe = executable();
    let mut last_error = String::new();
    // The free port can be taken between probing and binding: try a few.
    for _ in 0..3 {
        let port = free_port();
        let log = Arc::new(Mutex::new(VecDeque::<String>::new()));
        let (tx, rx) = mpsc::channel();
        let (exe2, log2) = (exe.clone(), log.clone());
        // This thread lives as long as the server: the parent-death signal follows the
        // thread that spawned the child, not the process.
        std::thread::Builder::new()
            .name("moto-server".into())
            .spawn(move || keep(exe2, port, log2, tx))
            .expect("spawn the moto keeper thread");
        let pid = match rx.recv() {
            Ok(Event::Spawned(pid)) => pid,
            Ok(Event::SpawnFailed(e)) => panic!("cannot start {}: {e}", exe.display()),
            _ => panic!("the moto keeper thread ended before starting {}", exe.display()),
        };
        PID.store(i32::try_from(pid).unwrap_or(0), Ordering::SeqCst);
        static HOOK: OnceLock<()> = OnceLock::new();
        HOOK.get_or_init(|| {
            // SAFETY: registers a plain extern "C" fn with no captured state.
            unsafe {
                libc::atexit(stop_at_exit);
            }
        });
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Event::Exited(status)) = rx.try_recv() {
                last_error = format!("moto_server exited ({status:?}) before answering on port {port}");
                break;
            }
            if ready(port) {
                return Moto { endpoint: format!("http://127.0.0.1:{port}") };
            }
            if Instant::now() > deadline {
                stop_at_exit();
                last_error = format!("moto_server did not answer on port {port} within {READY_TIMEOUT:?}");
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let tail: Vec<String> = log.lock().map(|l| l.iter().cloned().collect()).unwrap_or_default();
        last_error = format!("{last_error}; its output:\n{}", tail.join("\n"));
    }
    panic!("cannot start moto ({}): {last_error}", exe.display());
}

/// Spawn the server, report its pid, keep its last output lines, wait for it.
fn keep(exe: PathBuf, port: u16, log: Arc<Mutex<VecDeque<String>>>, tx: mpsc::Sender<Event>) {
    let mut cmd = Command::new(&exe);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
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
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(Event::SpawnFailed(e.to_string()));
            return;
        }
    };
    let _ = tx.send(Event::Spawned(child.id()));
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = log.lock() {
                    if l.len() == 40 {
                        l.pop_front();
                    }
                    l.push_back(line);
                }
            }
        });
    }
    let _ = tx.send(Event::Exited(child.wait()));
}

/// `GET /moto-api/` answers 200.
fn ready(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// moto's whole recorded state (`GET /moto-api/data.json`), e.g. the SNS notifications sent.
/// moto builds it by walking every model while other tests' requests change them, so it can
/// answer 500 (a collection changed during the walk): that is retried a few times.
pub fn data_json() -> serde_json::Value {
    let addr = moto().endpoint.trim_start_matches("http://").to_string();
    let mut last = String::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(&addr).expect("connect to moto");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
        s.write_all(format!("GET /moto-api/data.json HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).expect("request");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read data.json");
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        if head.starts_with("HTTP/1.") && head.get(9..12) == Some("200") {
            return serde_json::from_str(body).expect("data.json is JSON");
        }
        last = head.lines().next().unwrap_or("").to_string();
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("moto's data.json kept failing: {last}");
}

/// The SNS notifications moto recorded for `topic_arn`, oldest first, each
/// `[message_id, message, subject, attributes, group]`; empty when the topic is unknown.
pub fn sns_sent(topic_arn: &str) -> Vec<serde_json::Value> {
    let data = data_json();
    let topics = data["sns"]["Topic"].as_array().cloned().unwrap_or_default();
    let Some(topic) = topics.iter().find(|t| t["arn"] == topic_arn) else { return Vec::new() };
    topic["sent_notifications"].as_array().cloned().expect("moto lists a topic's sent_notifications")
}
