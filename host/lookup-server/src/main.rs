//! `lookup-server`: runs the LookupEvents / DescribeRegions test server as a process.
//!
//! It seeds events from files (`--seed`, trail files or JSON Lines; repeatable) and/or generates
//! deterministic synthetic ones (`--generate N --regions R --days D`), prints
//! `endpoint=http://127.0.0.1:PORT` as its first stdout line, and serves until it is killed, gets
//! Ctrl-C, or its stdin (a pipe or terminal; not /dev/null) reaches end of file. A control API
//! under `/_lookup-server/` adds events and injects faults at run time (see README.md).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use iam_tracker_lookup_server::generate::{generate_iter, GenerateSpec};
use iam_tracker_lookup_server::time::{epoch_secs_to_micros, now_micros, parse_iso8601, MICROS_PER_SEC};
use iam_tracker_lookup_server::{default_regions, seed, LookupServer, ServerConfig};

#[derive(Debug, Parser)]
#[command(name = "lookup-server", about = "A local CloudTrail LookupEvents + EC2 DescribeRegions server for tests")]
struct Args {
    /// Port on 127.0.0.1 (0 = a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed file: a trail file ({"Records":[...]}, .json or .json.gz), a JSON array or JSON Lines.
    /// Each record goes to its awsRegion. Repeatable.
    #[arg(long, value_name = "FILE")]
    seed: Vec<PathBuf>,
    /// Generate this many synthetic IAM/STS/sign-in/SSO records.
    #[arg(long, value_name = "EVENTS")]
    generate: Option<usize>,
    /// For --generate: a number of regions (the first enabled ones, us-east-1 first) or a
    /// comma-separated list. STS events go to all of them; IAM, sign-in and SSO to us-east-1.
    #[arg(long, value_name = "R", default_value = "3")]
    regions: String,
    /// For --generate: days covered, ending at --end.
    #[arg(long, value_name = "D", default_value_t = 7)]
    days: u32,
    /// For --generate: end of the window, ISO-8601 or epoch seconds (default: now, to the second).
    #[arg(long, value_name = "TIME")]
    end: Option<String>,
    /// For --generate: PRNG seed (same seed and --end: same records).
    #[arg(long, default_value_t = 1)]
    rng_seed: u64,
    /// LookupEvents requests per second per region (0 = unlimited).
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    /// Requests allowed at once per region.
    #[arg(long, default_value_t = 2)]
    burst: u32,
    /// Serve LookupEvents in not-opted-in regions too (default: UnrecognizedClientException).
    #[arg(long)]
    serve_not_opted_in: bool,
    /// Print one line per request to stderr.
    #[arg(long)]
    log_requests: bool,
    /// Do not stop when stdin reaches end of file.
    #[arg(long)]
    ignore_stdin: bool,
}

/// Whether stdin is /dev/null (then its immediate EOF means nothing).
#[cfg(unix)]
fn stdin_is_dev_null() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata("/proc/self/fd/0"), std::fs::metadata("/dev/null")) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn stdin_is_dev_null() -> bool {
    false
}

fn parse_end(s: &str) -> Option<i64> {
    s.trim().parse::<f64>().ok().and_then(epoch_secs_to_micros).or_else(|| parse_iso8601(s))
}

fn generate_regions(spec: &str) -> Vec<String> {
    match spec.trim().parse::<usize>() {
        Ok(n) => default_regions().into_iter().filter(|r| r.enabled()).take(n.max(1)).map(|r| r.name).collect(),
        Err(_) => spec.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
    }
}

async fn run(args: Args) -> Result<(), String> {
    let cfg = ServerConfig {
        rate_per_region: args.rate,
        burst: args.burst,
        port: args.port,
        reject_not_opted_in: !args.serve_not_opted_in,
        log_requests: args.log_requests,
        ..ServerConfig::default()
    };
    let server =
        LookupServer::start(cfg).await.map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let mut total = 0usize;
    for path in &args.seed {
        let records = seed::load_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        total += server.add_seed_records(records).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(n) = args.generate {
        let end_us = match &args.end {
            Some(s) => parse_end(s).ok_or_else(|| format!("--end {s:?} is not ISO-8601 or epoch seconds"))?,
            None => now_micros() / MICROS_PER_SEC * MICROS_PER_SEC,
        };
        let mut spec = GenerateSpec::new(n, generate_regions(&args.regions), args.days, end_us);
        spec.seed = args.rng_seed;
        for (region, rec) in generate_iter(&spec) {
            server.add_event(&region, rec).map_err(|e| format!("generated record: {e}"))?;
            total += 1;
        }
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "endpoint={}", server.endpoint()).map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    drop(stdout);
    eprintln!("lookup-server: {total} events loaded; listening on {}", server.endpoint());

    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    if !args.ignore_stdin && !stdin_is_dev_null() {
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 4096];
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            let _ = eof_tx.send(());
        });
    } else {
        std::mem::forget(eof_tx); // never signals
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => eprintln!("lookup-server: interrupted"),
        _ = eof_rx => eprintln!("lookup-server: stdin closed"),
    }
    server.shutdown();
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lookup-server: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lookup-server: {e}");
            ExitCode::from(2)
        }
    }
}
