//! The collection benchmark: `iam-tracker collect` end to end, as a release process, against
//! the LookupEvents test server at its real rate limit and against gzip trail files.
//!
//! Run it with `cargo bench -p iam-tracker --bench collect [-- ARGS]` or `cargo xtask
//! bench-collect [ARGS]`; `--help` lists the arguments. It prints a markdown report and
//! writes the same to `target/bench-collect-report.md` (paste it into `docs/benchmarks.md`).
//!
//! What is measured:
//!
//! - **LookupEvents.** `iam_tracker_lookup_server::LookupServer` runs on a thread of this
//!   process on 127.0.0.1 with its real limit (2 requests/s per region, burst 2). It holds
//!   `--events` deterministic records (`generate_iter`: STS calls in each of the `--regions`
//!   first enabled regions, IAM, sign-in and SSO calls in us-east-1) spread over `--days`
//!   days ending ten minutes ago, inside the collector's 90-day initial window. The release
//!   binary (`CARGO_BIN_EXE_iam-tracker`, built by `cargo bench`) runs `collect --regions
//!   ... --endpoint-url ... --store local:TMP --alerts file:TMP/alerts.jsonl --report-json
//!   ...` with static test credentials and no ambient AWS configuration, from an empty
//!   store (an initial load). Reported: wall time, the rate-limit floor `max over regions
//!   of ceil(events in the region / 50) / 2` seconds and floor/wall (the issue's target is
//!   ≥ 0.9), requests per region (the run report's count and the server's) against the
//!   minimum pages (`ceil(events / 50)` per (region, source) task, at least 1), throttled
//!   answers, and the events stored (read back with `iam-tracker events`; must be
//!   `--events`). It runs with the collector's default `MAX_WORKERS` and, when that differs
//!   from the number of regions, with `MAX_WORKERS` = regions too.
//! - **Trail files.** The pipeline benchmark's corpus (`corpus/mod.rs`: realistic records,
//!   ~1.5 KB each) is written as gzip trail files in the standard layout
//!   `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz`, and the binary runs
//!   `collect --source trail:DIR --store local:TMP` with the default detectors (the
//!   embedded built-ins) and host filters, into a fresh store each repetition; then the
//!   same with `--dry-run` (read, filter and detect, store nothing), which shows the
//!   store's share. Reported: medians of wall time and of the child's CPU time
//!   (`getrusage(RUSAGE_CHILDREN)` around each run), events/s of wall time and events per
//!   CPU-second (= per core).
//!
//! The machine's core count and load average are printed with the results: the numbers
//! only mean something next to them.

#[allow(dead_code)] // shared with the pipeline benchmark, which uses all of it
mod corpus;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use iam_tracker_lookup_server::generate::{generate_iter, GenerateSpec};
use iam_tracker_lookup_server::{default_regions, LookupServer, ServerConfig};
use serde_json::Value;

const USAGE: &str = "\
cargo bench -p iam-tracker --bench collect -- [OPTIONS]

  --events N          LookupEvents: records on the server (default 20000)
  --regions R         LookupEvents: the first R enabled regions, us-east-1 first (default 8)
  --days D            LookupEvents: days the records cover, ending 10 minutes ago (default 3)
  --workers LIST      LookupEvents: MAX_WORKERS values to run with, comma-separated; `default`
                      leaves it unset (default: `default,R`)
  --trail-events N    trail files: records in all (default 100000)
  --per-file N        trail files: records per file (default 1000)
  --reps N            trail files: timed runs of each variant (default 3)
  --seed N            corpus seed of the trail files (default 42)
  --no-lookup         skip the LookupEvents benchmark
  --no-trail          skip the trail-file benchmark
  --report PATH       where to write the markdown (default target/bench-collect-report.md; the
                      work files go to target/bench-collect/)";

/// The release binary `cargo bench` builds alongside this benchmark.
const BIN: &str = env!("CARGO_BIN_EXE_iam-tracker");
/// LookupEvents page size and rate limit (AWS's, and the test server's default).
const PAGE: usize = 50;
const RATE: f64 = 2.0;
/// The issue's target: at least this share of the rate-limit ceiling.
const TARGET: f64 = 0.9;

struct Args {
    events: usize,
    regions: usize,
    days: u32,
    /// `None`: MAX_WORKERS unset (the collector's default).
    workers: Vec<Option<usize>>,
    trail_events: usize,
    per_file: usize,
    reps: usize,
    seed: u64,
    lookup: bool,
    trail: bool,
    report: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut a = Args {
        events: 20_000,
        regions: 8,
        days: 3,
        workers: Vec::new(),
        trail_events: 100_000,
        per_file: 1000,
        reps: 3,
        seed: 42,
        lookup: true,
        trail: true,
        report: None,
    };
    let mut workers: Option<String> = None;
    let mut it = std::env::args().skip(1);
    let num = |it: &mut dyn Iterator<Item = String>, flag: &str| -> usize {
        let v = it.next().unwrap_or_else(|| die(&format!("{flag} needs a value")));
        v.replace('_', "").parse().unwrap_or_else(|_| die(&format!("{flag}: {v:?} is not a number")))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "--events" => a.events = num(&mut it, "--events").max(1),
            "--regions" => a.regions = num(&mut it, "--regions").max(1),
            "--days" => a.days = num(&mut it, "--days").clamp(1, 89) as u32,
            "--workers" => workers = Some(it.next().unwrap_or_else(|| die("--workers needs a value"))),
            "--trail-events" => a.trail_events = num(&mut it, "--trail-events").max(1),
            "--per-file" => a.per_file = num(&mut it, "--per-file").max(1),
            "--reps" => a.reps = num(&mut it, "--reps").max(1),
            "--seed" => a.seed = num(&mut it, "--seed") as u64,
            "--no-lookup" => a.lookup = false,
            "--no-trail" => a.trail = false,
            "--report" => a.report = Some(PathBuf::from(it.next().unwrap_or_else(|| die("--report needs a value")))),
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => die(&format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    let regions = a.regions;
    a.workers = match workers {
        None if regions == DEFAULT_MAX_WORKERS => vec![None],
        None => vec![None, Some(regions)],
        Some(list) => {
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| match s {
                    "default" => None,
                    "R" | "r" => Some(regions),
                    n => Some(n.parse::<usize>().ok().filter(|n| *n >= 1).unwrap_or_else(|| {
                        die(&format!("--workers: {n:?} is neither `default`, `R` nor a number >= 1"))
                    })),
                })
                .collect()
        }
    };
    a
}

/// `SourceSettings::default().max_workers`, named for the report.
const DEFAULT_MAX_WORKERS: usize = 5;

fn die(msg: &str) -> ! {
    eprintln!("collect bench: {msg}");
    std::process::exit(2);
}

// ---------------------------------------------------------------------------------------
// Machine, clocks, children.

fn nproc() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// User + system CPU time of the reaped children of this process so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32).saturating_mul(1000));
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

struct ChildRun {
    wall: Duration,
    cpu: Duration,
    code: i32,
}

/// Runs the release binary to its end with stdout and stderr to files; wall and CPU time
/// of the child (no other child of this process runs meanwhile).
fn run_bin(args: &[String], env: &[(&str, String)], stdout: &Path, stderr: &Path) -> ChildRun {
    let file =
        |p: &Path| std::fs::File::create(p).unwrap_or_else(|e| die(&format!("cannot create {}: {e}", p.display())));
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdin(Stdio::null()).stdout(file(stdout)).stderr(file(stderr));
    // Nothing from the ambient environment may steer the run (or reach real AWS).
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str() {
            if k.starts_with("AWS_")
                || k.starts_with("IAM_TRACKER_")
                || k.starts_with("PROCESS_")
                || matches!(k, "MAX_WORKERS" | "SSO_REGION" | "FILTER_AWS_SERVICE_EVENTS" | "FILTERED_ROLES")
            {
                cmd.env_remove(k);
            }
        }
    }
    cmd.env("NO_COLOR", "1").env("IAM_TRACKER_NO_PROGRESS", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let cpu0 = children_cpu();
    let started = Instant::now();
    let status = cmd.status().unwrap_or_else(|e| die(&format!("cannot run {BIN}: {e}")));
    let wall = started.elapsed();
    ChildRun { wall, cpu: children_cpu().saturating_sub(cpu0), code: status.code().unwrap_or(-1) }
}

fn fresh_dir(path: &Path) {
    if path.exists() {
        std::fs::remove_dir_all(path).unwrap_or_else(|e| die(&format!("cannot clear {}: {e}", path.display())));
    }
    std::fs::create_dir_all(path).unwrap_or_else(|e| die(&format!("cannot create {}: {e}", path.display())));
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| die(&format!("cannot read {}: {e}", path.display())));
    serde_json::from_str(&text).unwrap_or_else(|e| die(&format!("{} is not JSON: {e}", path.display())))
}

/// The distinct event ids in the store, read back with `iam-tracker events --format jsonl`.
fn stored_ids(store: &Path, work: &Path) -> HashSet<String> {
    let out = work.join("events.jsonl");
    let err = work.join("events.stderr");
    let store_arg = format!("local:{}", store.display());
    let args: Vec<String> =
        ["events", "--store", &store_arg, "--format", "jsonl"].iter().map(|s| (*s).to_owned()).collect();
    let run = run_bin(&args, &[], &out, &err);
    if run.code != 0 {
        die(&format!("`iam-tracker events` exited with {}; see {}", run.code, err.display()));
    }
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| die(&format!("cannot read {}: {e}", out.display())));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| die(&format!("bad events row: {e}")));
            v["event_id"].as_str().unwrap_or_else(|| die("an events row has no event_id")).to_owned()
        })
        .collect()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------------------------------
// LookupEvents.

/// Events on the server per (region, source).
type Layout = BTreeMap<(String, String), usize>;

struct LookupRun {
    workers: Option<usize>,
    run: ChildRun,
    /// Requests per region: (run report, server), throttled answers (server).
    per_region: BTreeMap<String, (u64, u64, u64)>,
    /// Requests per task in the run report, and its status.
    per_task: BTreeMap<(String, String), (u64, String)>,
    retries: u64,
    read: u64,
    stored_report: u64,
    stored_ids: usize,
    filtered: u64,
    alerts: u64,
}

fn region_events(layout: &Layout) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for ((region, _), n) in layout {
        *m.entry(region.clone()).or_default() += n;
    }
    m
}

/// Minimum requests per region: every (region, source) task pages its events, at least once.
fn min_pages(layout: &Layout) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for ((region, _), n) in layout {
        *m.entry(region.clone()).or_default() += n.div_ceil(PAGE).max(1);
    }
    m
}

/// `max over regions of ceil(events / 50) / 2` seconds.
fn floor_secs(layout: &Layout) -> f64 {
    region_events(layout).values().map(|n| n.div_ceil(PAGE) as f64 / RATE).fold(0.0, f64::max)
}

fn lookup_bench(args: &Args, work: &Path, out: &mut String) {
    let regions: Vec<String> =
        default_regions().into_iter().filter(|r| r.enabled()).take(args.regions).map(|r| r.name).collect();
    let now_s = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    // Ten minutes ago (past the collector's 5-minute buffer), to the minute.
    let end_us = (now_s - 600) / 60 * 60 * 1_000_000;
    let spec = GenerateSpec::new(args.events, regions.clone(), args.days, end_us);

    let server = LookupServer::start_in_thread(ServerConfig::default())
        .unwrap_or_else(|e| die(&format!("cannot start the LookupEvents server: {e}")));
    let cfg = ServerConfig::default();
    let mut layout: Layout = BTreeMap::new();
    let t = Instant::now();
    for (region, record) in generate_iter(&spec) {
        let source = record["eventSource"].as_str().unwrap_or("?").to_owned();
        server.add_event(&region, record).unwrap_or_else(|e| die(&format!("cannot add a generated event: {e}")));
        *layout.entry((region, source)).or_default() += 1;
    }
    eprintln!("collect bench: {} events loaded into the server in {:.1}s", args.events, secs(t.elapsed()));
    let floor = floor_secs(&layout);
    let by_region = region_events(&layout);
    let mins = min_pages(&layout);

    let mut runs = Vec::new();
    for (i, workers) in args.workers.iter().enumerate() {
        let dir = work.join(format!("lookup-{i}"));
        fresh_dir(&dir);
        let store = dir.join("store");
        let report = dir.join("report.json");
        let cli: Vec<String> = vec![
            "collect".into(),
            "--regions".into(),
            regions.join(","),
            "--endpoint-url".into(),
            server.endpoint(),
            "--store".into(),
            format!("local:{}", store.display()),
            "--alerts".into(),
            format!("file:{}", dir.join("alerts.jsonl").display()),
            "--report-json".into(),
            report.display().to_string(),
        ];
        let mut env: Vec<(&str, String)> = vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", dir.join("no-aws-config").display().to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials").display().to_string()),
        ];
        if let Some(w) = workers {
            env.push(("MAX_WORKERS", w.to_string()));
        }
        server.reset_stats();
        let label = workers.map_or_else(|| format!("default ({DEFAULT_MAX_WORKERS})"), |w| w.to_string());
        eprintln!("collect bench: LookupEvents run, MAX_WORKERS {label} (floor {floor:.1}s) ...");
        let run = run_bin(&cli, &env, &dir.join("stdout.txt"), &dir.join("stderr.log"));
        let stats = server.stats();
        if run.code != 0 {
            eprintln!(
                "collect bench: collect exited with {} (1 = finished with problems); see {}",
                run.code,
                dir.join("stderr.log").display()
            );
        }
        let rep = read_json(&report);
        let mut per_region: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
        let mut per_task = BTreeMap::new();
        let (mut retries, mut read, mut stored, mut filtered, mut alerts) = (0, 0, 0, 0, 0);
        if let Some(tasks) = rep["tasks"].as_object() {
            for (key, t) in tasks {
                let (region, source) = key.split_once('/').unwrap_or((key.as_str(), ""));
                let requests = t["requests"]["requests"].as_u64().unwrap_or(0);
                per_region.entry(region.to_owned()).or_default().0 += requests;
                per_task.insert(
                    (region.to_owned(), source.to_owned()),
                    (requests, t["status"].as_str().unwrap_or("?").to_owned()),
                );
                retries += t["requests"]["retries"].as_u64().unwrap_or(0);
                read += t["read"].as_u64().unwrap_or(0);
                stored += t["stored"].as_u64().unwrap_or(0);
                alerts += t["alerts"].as_u64().unwrap_or(0);
                filtered += t["filtered"].as_object().map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
            }
        }
        for (region, n) in &stats.requests_by_region {
            per_region.entry(region.clone()).or_default().1 = *n;
        }
        for (region, n) in &stats.throttled_by_region {
            per_region.entry(region.clone()).or_default().2 = *n;
        }
        let ids = stored_ids(&store, &dir);
        eprintln!(
            "collect bench: {:.1}s wall, {} requests, {} events stored (floor/wall {:.2})",
            secs(run.wall),
            per_region.values().map(|r| r.1).sum::<u64>(),
            ids.len(),
            floor / secs(run.wall)
        );
        runs.push(LookupRun {
            workers: *workers,
            run,
            per_region,
            per_task,
            retries,
            read,
            stored_report: stored,
            stored_ids: ids.len(),
            filtered,
            alerts,
        });
    }
    drop(server);

    let (top, top_n) = by_region.iter().max_by_key(|(_, n)| **n).map(|(r, n)| (r.clone(), *n)).unwrap_or_default();
    let _ = writeln!(out, "## LookupEvents\n");
    let _ = writeln!(
        out,
        "{} events over {} regions ({}), {} days ending 10 minutes before the run, server at {}/s per region \
         (burst {}); initial load (empty store, 90-day window). Floor = max over regions of \
         ceil(events/{PAGE})/{RATE} = **{floor:.1} s** ({top}: {top_n} events).\n",
        args.events,
        regions.len(),
        regions.join(", "),
        args.days,
        cfg.rate_per_region,
        cfg.burst,
    );
    let _ = writeln!(
        out,
        "| MAX_WORKERS | wall s | CPU s | floor/wall | target ≥ {TARGET} | requests (report / server) | throttled | retries | read | stored (report / read back) | filtered | alerts | exit |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &runs {
        let ratio = floor / secs(r.run.wall);
        let label = r.workers.map_or_else(|| format!("default ({DEFAULT_MAX_WORKERS})"), |w| w.to_string());
        let report_req: u64 = r.per_region.values().map(|v| v.0).sum();
        let server_req: u64 = r.per_region.values().map(|v| v.1).sum();
        let throttled: u64 = r.per_region.values().map(|v| v.2).sum();
        let _ = writeln!(
            out,
            "| {label} | {:.1} | {:.2} | {ratio:.2} | {} | {report_req} / {server_req} | {throttled} | {} | {} | {} / {} | {} | {} | {} |",
            secs(r.run.wall),
            secs(r.run.cpu),
            if ratio >= TARGET { "met" } else { "**missed**" },
            r.retries,
            r.read,
            r.stored_report,
            r.stored_ids,
            r.filtered,
            r.alerts,
            r.run.code,
        );
    }
    for r in &runs {
        if r.stored_ids != args.events {
            let _ = writeln!(
                out,
                "\n**Events stored ({}) differ from the events served ({}).**",
                r.stored_ids, args.events
            );
        }
    }
    let _ = writeln!(
        out,
        "\nPer region (requests: run report / server; `min` = Σ over its tasks of max(1, ceil(events/{PAGE}))):\n"
    );
    let mut head = "| region | events | floor s | min pages |".to_owned();
    let mut rule = "|---|---|---|---|".to_owned();
    for r in &runs {
        let label = r.workers.map_or_else(|| "default".to_owned(), |w| w.to_string());
        let _ = write!(head, " requests (W={label}) | extra | throttled |");
        rule.push_str("---|---|---|");
    }
    let _ = writeln!(out, "{head}\n{rule}");
    for (region, n) in &by_region {
        let min = mins.get(region).copied().unwrap_or(0);
        let _ = write!(out, "| {region} | {n} | {:.1} | {min} |", n.div_ceil(PAGE) as f64 / RATE);
        for r in &runs {
            let (rep, srv, thr) = r.per_region.get(region).copied().unwrap_or_default();
            let extra = rep as f64 / min.max(1) as f64 - 1.0;
            let _ = write!(out, " {rep} / {srv} | {:+.0}% | {thr} |", extra * 100.0);
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "\nPer task in {top} (requests in the run report vs ceil(events/{PAGE})):\n");
    let _ = writeln!(
        out,
        "| task | events | min pages |{}",
        runs.iter().map(|_| " requests | status |").collect::<String>()
    );
    let _ = writeln!(out, "|---|---|---|{}", runs.iter().map(|_| "---|---|").collect::<String>());
    for ((region, source), n) in layout.iter().filter(|((r, _), _)| *r == top) {
        let _ = write!(out, "| {region}/{source} | {n} | {} |", n.div_ceil(PAGE).max(1));
        for r in &runs {
            let (req, status) = r.per_task.get(&(region.clone(), source.clone())).cloned().unwrap_or_default();
            let _ = write!(out, " {req} | {status} |");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out);
}

// ---------------------------------------------------------------------------------------
// Trail files.

const ACCOUNT: &str = "123456789012";

/// Writes the corpus as gzip trail files in the standard layout, one day folder per 24
/// files, and returns the bytes written (compressed, uncompressed).
fn write_trail(dir: &Path, files: &[String]) -> (u64, u64) {
    let (mut gz_bytes, mut raw_bytes) = (0u64, 0u64);
    for (i, text) in files.iter().enumerate() {
        let day = 1 + (i / 24) % 28;
        let month = 1 + (i / (24 * 28)) % 12;
        let hour = i % 24;
        let folder = dir.join(format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2024/{month:02}/{day:02}"));
        std::fs::create_dir_all(&folder).unwrap_or_else(|e| die(&format!("cannot create {}: {e}", folder.display())));
        let name = format!("{ACCOUNT}_CloudTrail_us-east-1_2024{month:02}{day:02}T{hour:02}00Z_bench{i:05}.json.gz");
        let path = folder.join(name);
        let f = std::fs::File::create(&path).unwrap_or_else(|e| die(&format!("cannot create {}: {e}", path.display())));
        let mut gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(f), flate2::Compression::default());
        gz.write_all(text.as_bytes())
            .and_then(|()| gz.finish())
            .and_then(|mut w| w.flush())
            .unwrap_or_else(|e| die(&format!("cannot write {}: {e}", path.display())));
        raw_bytes += text.len() as u64;
        gz_bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    (gz_bytes, raw_bytes)
}

struct TrailRun {
    wall: f64,
    cpu: f64,
    read: u64,
    stored: u64,
    filtered: u64,
    alerts: u64,
    code: i32,
}

fn trail_once(trail: &Path, dir: &Path, dry_run: bool) -> TrailRun {
    fresh_dir(dir);
    let report = dir.join("report.json");
    let mut cli: Vec<String> = vec![
        "collect".into(),
        "--source".into(),
        format!("trail:{}", trail.display()),
        "--store".into(),
        format!("local:{}", dir.join("store").display()),
        "--report-json".into(),
        report.display().to_string(),
    ];
    if dry_run {
        // Dry runs print alerts on stdout (to a file here) and deliver nothing.
        cli.extend(["--format".into(), "jsonl".into()]);
    } else {
        cli.extend(["--alerts".into(), format!("file:{}", dir.join("alerts.jsonl").display())]);
    }
    if dry_run {
        cli.push("--dry-run".into());
    }
    let env = [("AWS_EC2_METADATA_DISABLED", "true".to_owned())];
    let run = run_bin(&cli, &env, &dir.join("stdout.txt"), &dir.join("stderr.log"));
    let rep = read_json(&report);
    let (mut read, mut stored, mut filtered, mut alerts) = (0, 0, 0, 0);
    if let Some(tasks) = rep["tasks"].as_object() {
        for t in tasks.values() {
            read += t["read"].as_u64().unwrap_or(0);
            stored += t["stored"].as_u64().unwrap_or(0);
            alerts += t["alerts"].as_u64().unwrap_or(0);
            filtered += t["filtered"].as_object().map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
        }
    }
    TrailRun { wall: secs(run.wall), cpu: secs(run.cpu), read, stored, filtered, alerts, code: run.code }
}

fn trail_bench(args: &Args, work: &Path, out: &mut String) {
    let spec = corpus::Spec { events: args.trail_events, seed: args.seed, per_file: args.per_file };
    let t = Instant::now();
    let corpus = corpus::generate(&spec);
    let trail = work.join("trail");
    fresh_dir(&trail);
    let (gz, raw) = write_trail(&trail, &corpus.files);
    eprintln!(
        "collect bench: {} records in {} gzip files ({:.1} MB, {:.1} MB uncompressed) written in {:.1}s",
        corpus.records,
        corpus.files.len(),
        gz as f64 / 1e6,
        raw as f64 / 1e6,
        secs(t.elapsed())
    );
    let mut variants: Vec<(&str, Vec<TrailRun>)> =
        vec![("store + detect", Vec::new()), ("--dry-run (detect only)", Vec::new())];
    for rep in 0..args.reps {
        for (i, (name, runs)) in variants.iter_mut().enumerate() {
            let r = trail_once(&trail, &work.join(format!("trail-run-{i}")), i == 1);
            eprintln!(
                "collect bench: trail {name} rep {}: {:.2}s wall, {:.2}s CPU, exit {}",
                rep + 1,
                r.wall,
                r.cpu,
                r.code
            );
            runs.push(r);
        }
    }
    let n = corpus.records as f64;
    let _ = writeln!(out, "## Trail files\n");
    let _ = writeln!(
        out,
        "{} records (pipeline-benchmark corpus, seed {}, avg {:.0} B) in {} gzip trail files of {} records \
         ({:.1} MB gzip, {:.1} MB JSON), standard layout, one task; default detectors (embedded built-ins) and \
         host filters; fresh store each run. Medians of {} runs; CPU = the child's user + system time.\n",
        corpus.records,
        args.seed,
        corpus.avg_record(),
        corpus.files.len(),
        args.per_file,
        gz as f64 / 1e6,
        raw as f64 / 1e6,
        args.reps
    );
    let _ = writeln!(
        out,
        "| variant | wall s | CPU s | CPU/wall | events/s (wall) | events/s per core (CPU) | read | stored | filtered | alerts | exit |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    let mut cpu_medians = Vec::new();
    for (name, runs) in &variants {
        let wall = median(runs.iter().map(|r| r.wall).collect());
        let cpu = median(runs.iter().map(|r| r.cpu).collect());
        cpu_medians.push(cpu);
        let last = runs.last();
        let _ = writeln!(
            out,
            "| {name} | {wall:.2} | {cpu:.2} | {:.2} | {:.0} | {:.0} | {} | {} | {} | {} | {} |",
            cpu / wall,
            n / wall,
            n / cpu,
            last.map_or(0, |r| r.read),
            last.map_or(0, |r| r.stored),
            last.map_or(0, |r| r.filtered),
            last.map_or(0, |r| r.alerts),
            last.map_or(-1, |r| r.code),
        );
    }
    if let [full, dry] = cpu_medians[..] {
        let _ = writeln!(
            out,
            "\nThe store's share (store + detect minus dry run, CPU): {:.2} s of {:.2} s ({:.0}%).",
            full - dry,
            full,
            (full - dry) / full * 100.0
        );
    }
    let _ = writeln!(out);
}

// ---------------------------------------------------------------------------------------

fn main() {
    let args = parse_args();
    // The target directory `cargo bench` built into (the binary is in its `release/`).
    let target =
        Path::new(BIN).parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| "target".into());
    let work = target.join("bench-collect");
    std::fs::create_dir_all(&work).unwrap_or_else(|e| die(&format!("cannot create {}: {e}", work.display())));

    let mut out = String::new();
    let _ = writeln!(out, "# Collection benchmark (`iam-tracker collect`, release)\n");
    let _ = writeln!(
        out,
        "Machine: {} cores, load average {} at the start; binary `{}`.\n",
        nproc(),
        load_average(),
        Path::new(BIN).file_name().map_or_else(|| BIN.to_owned(), |f| f.to_string_lossy().into_owned())
    );
    let _ = writeln!(
        out,
        "Command: `cargo bench -p iam-tracker --bench collect -- {}`\n",
        std::env::args().skip(1).filter(|a| a != "--bench").collect::<Vec<_>>().join(" ")
    );
    if args.lookup {
        lookup_bench(&args, &work, &mut out);
    }
    if args.trail {
        trail_bench(&args, &work, &mut out);
    }
    let _ = writeln!(out, "Load average at the end: {}.", load_average());

    print!("{out}");
    let report = args.report.clone().unwrap_or_else(|| target.join("bench-collect-report.md"));
    if let Some(parent) = report.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    match std::fs::write(&report, &out) {
        Ok(()) => eprintln!("collect bench: report written to {}", report.display()),
        Err(e) => die(&format!("cannot write {}: {e}", report.display())),
    }
}
