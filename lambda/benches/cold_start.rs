//! The `tracker` Lambda's cold start, measured the way Lambda reports it, on the binary
//! `cargo xtask dist --arch x86_64` built (release, cargo-lambda, plugins precompiled).
//!
//! Each run starts the bootstrap as a fresh process under our Runtime API stub, against the
//! LookupEvents test server (40 events), DynamoDB Local (or moto; fresh tables per run) and
//! moto SNS, exactly as `tests/e2e.rs` does, and invokes it once:
//! - **init**: process start to its first `GET .../invocation/next` (Lambda's `Init Duration`);
//! - **invoke**: the first invocation, a full collect, store, detect and publish;
//! - **peak RSS**: the process's `VmHWM` after the invocation (its whole life so far), and
//!   `ru_maxrss` from `wait4` once it is killed. The latter can be inflated by this process's
//!   own size (Linux records the parent's peak when a `posix_spawn`ed child execs), so both
//!   are shown and the target is checked on `VmHWM`.
//!
//! `--no-precompiled` adds the same runs with `IAM_TRACKER_NO_PRECOMPILED=1` (the host
//! compiles the embedded `.wasm` at cold start instead of loading the `.cwasm`), interleaved.
//! Run it with `cargo xtask bench-lambda [--runs N] [--no-precompiled]`; the harness itself is
//! a dev build, it only drives processes.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use iam_tracker::aws::dynamodb::DynamoOptions;
use iam_tracker_lookup_server::LookupServer;

// The end-to-end test's fixtures: the same world, environment and Runtime API stub.
#[path = "../tests/support/mod.rs"]
mod support;

use support::runtime_api::RuntimeApi;

const TARGET_INIT_MS: f64 = 300.0;
const TARGET_PEAK_MIB: f64 = 128.0;
/// The bootstrap, unless `--bootstrap PATH` or `$IAM_TRACKER_LAMBDA_BOOTSTRAP` says otherwise.
const DEFAULT_BOOTSTRAP: &str = "target/dist/lambda-x86_64/tracker/bootstrap";

/// One measured cold start.
struct Sample {
    init_ms: f64,
    invoke_ms: f64,
    hwm_kib: u64,
    maxrss_kib: u64,
}

/// The shared fixtures: the LookupEvents server, the alerts topic, the number of events.
struct World {
    lookup: LookupServer,
    topic: String,
    events: usize,
}

fn world() -> World {
    let (lookup, ids) = support::lookup_world();
    World { lookup, topic: support::moto_topic("bench-alerts"), events: ids.len() }
}

fn run_once(bootstrap: &PathBuf, w: &World, compile: bool, log: &std::path::Path) -> Sample {
    let store = support::dynamodb::store_with(DynamoOptions::default());
    let tables = store.tables().clone();
    let api = RuntimeApi::start();
    let out = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(bootstrap);
    support::aws_env(&mut cmd, &w.lookup.endpoint(), &support::dynamodb::server().endpoint, &support::moto::moto().endpoint);
    support::lambda_env(&mut cmd, &api, "bench-tracker", 128);
    support::tracker_env(&mut cmd, &tables, &w.topic);
    cmd.stdin(Stdio::null()).stdout(out.try_clone().expect("log file")).stderr(out);
    if compile {
        cmd.env("IAM_TRACKER_NO_PRECOMPILED", "1");
    }
    let started = Instant::now();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", bootstrap.display()));
    let pid = child.id();
    let ready =
        api.wait_ready(Duration::from_secs(120)).unwrap_or_else(|e| fail(pid, log, format!("cold start failed: {e}")));
    let init = ready.duration_since(started);
    let t = Instant::now();
    let answer =
        api.invoke(serde_json::json!({"source": "aws.events"}), Duration::from_secs(120), Duration::from_secs(150));
    let invoke = t.elapsed();
    let answer = answer.unwrap_or_else(|e| fail(pid, log, format!("the invocation failed: {e}")));
    if answer["events_stored"] != w.events || answer["tasks_failed"] != 0 {
        fail(pid, log, format!("unexpected run report: {answer:#}"));
    }
    let hwm = support::peak_rss_kib(pid).unwrap_or_else(|| fail(pid, log, "no /proc status for the function".into()));
    drop(child);
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for the child killed just before.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: signalling and reaping the child this function started.
    let reaped = unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
        libc::wait4(pid as i32, &mut status, 0, &mut usage)
    };
    assert_eq!(reaped, pid as i32, "wait4 on the function");
    Sample {
        init_ms: init.as_secs_f64() * 1000.0,
        invoke_ms: invoke.as_secs_f64() * 1000.0,
        hwm_kib: hwm,
        maxrss_kib: usage.ru_maxrss as u64,
    }
}

/// Stop the function and fail the bench with `what` and the end of the function's log.
fn fail(pid: u32, log: &std::path::Path, what: String) -> ! {
    // SAFETY: signalling and reaping the child this process started.
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
        libc::waitpid(pid as i32, std::ptr::null_mut(), 0);
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    panic!("{what}\n--- last lines of {} ---\n{tail}", log.display());
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "cold_start [--runs N] [--no-precompiled] [--bootstrap PATH]   (default: {DEFAULT_BOOTSTRAP}, 10 runs)"
        );
        return;
    }
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let runs: usize = value("--runs").map(|v| v.parse().expect("--runs N")).unwrap_or(10);
    let compare = args.iter().any(|a| a == "--no-precompiled");
    let bootstrap = value("--bootstrap")
        .or_else(|| std::env::var("IAM_TRACKER_LAMBDA_BOOTSTRAP").ok())
        .map(PathBuf::from)
        .unwrap_or_else(|| support::root().join(DEFAULT_BOOTSTRAP));
    assert!(bootstrap.is_file(), "{} is missing: run `cargo xtask dist --arch x86_64` first", bootstrap.display());
    let size = std::fs::metadata(&bootstrap).map(|m| m.len()).unwrap_or(0);

    let w = world();
    let logs = tempfile::tempdir().expect("log dir");
    let variants: &[(&str, bool)] = if compare {
        &[("precompiled (.cwasm)", false), ("compiled at cold start", true)]
    } else {
        &[("precompiled (.cwasm)", false)]
    };
    let mut samples: Vec<Vec<Sample>> = variants.iter().map(|_| Vec::new()).collect();
    // One throw-away run warms the page cache and DynamoDB Local's JIT, as a warm Lambda host would be.
    let _ = run_once(&bootstrap, &w, false, &logs.path().join("warmup.log"));
    for i in 0..runs {
        for (v, (name, compile)) in variants.iter().enumerate() {
            let s = run_once(&bootstrap, &w, *compile, &logs.path().join(format!("run-{v}-{i}.log")));
            eprintln!(
                "run {:>2} {name:<24} init {:>6.1} ms  invoke {:>7.1} ms  VmHWM {:>6.1} MiB  ru_maxrss {:>6.1} MiB",
                i + 1,
                s.init_ms,
                s.invoke_ms,
                mib(s.hwm_kib),
                mib(s.maxrss_kib)
            );
            samples[v].push(s);
        }
    }
    let own = support::peak_rss_kib(std::process::id()).map_or(0.0, mib);
    println!(
        "\n`tracker` cold start: {} ({:.1} MB), {runs} runs per variant, medians (min-max)\n",
        bootstrap.display(),
        size as f64 / 1e6
    );
    println!("| variant | init (to first `next`) | first invoke | peak RSS (VmHWM) | ru_maxrss (wait4) |");
    println!("|---|---|---|---|---|");
    for ((name, _), s) in variants.iter().zip(&samples) {
        let col = |f: &dyn Fn(&Sample) -> f64, unit: &str, prec: usize| {
            let v: Vec<f64> = s.iter().map(f).collect();
            let (lo, hi) = (v.iter().copied().fold(f64::MAX, f64::min), v.iter().copied().fold(0.0, f64::max));
            format!("{:.prec$} {unit} ({lo:.prec$}-{hi:.prec$})", median(v))
        };
        println!(
            "| {name} | {} | {} | {} | {} |",
            col(&|x| x.init_ms, "ms", 1),
            col(&|x| x.invoke_ms, "ms", 0),
            col(&|x| mib(x.hwm_kib), "MiB", 1),
            col(&|x| mib(x.maxrss_kib), "MiB", 1)
        );
    }
    let init = median(samples[0].iter().map(|s| s.init_ms).collect());
    let peak = median(samples[0].iter().map(|s| mib(s.hwm_kib)).collect());
    println!(
        "\ntargets: init {init:.1} ms <= {TARGET_INIT_MS} ms: {}; peak {peak:.1} MiB <= {TARGET_PEAK_MIB} MiB: {}",
        if init <= TARGET_INIT_MS { "met" } else { "MISSED" },
        if peak <= TARGET_PEAK_MIB { "met" } else { "MISSED" }
    );
    println!(
        "(this harness's own peak RSS: {own:.1} MiB; a ru_maxrss close to it is the harness's, not the function's)"
    );
}
