//! The export benchmark (issue 6, "Performance"): 1,000,000 generated stored events exported
//! to local Parquet by `iam-tracker export`, against the original's approach (pandas
//! DataFrame, `pa.Table.from_pandas`, `pq.write_table` with snappy and 10,000-row groups)
//! on the same rows.
//!
//! Run it with `cargo xtask bench-export [-- ARGS]` (release build without the AWS SDK) or
//! `cargo bench -p iam-tracker --no-default-features --bench export -- ARGS`; `--help`
//! lists the arguments. It prints a markdown report and writes it to
//! `target/bench-export-report.md` (paste it into `docs/benchmarks.md`).
//!
//! - **Data.** `iam_tracker_lookup_server::generate::generate_iter` (realistic IAM, STS,
//!   sign-in and SSO records; STS spread over `--regions` regions) over `--days` days ending
//!   2026-11-01, stored into an embedded store at `target/bench-export/store` in batches of
//!   10,000 (not timed). The store is kept and reused when it already holds `--events`
//!   events, and the exported files stay in `target/bench-export/parquet/` (the layout of
//!   `docs/export-schema.md`), so later benchmarks (the local query timings) can reuse them.
//!   The same rows are dumped from the store as JSON Lines, one file per date, for the
//!   Python side (not timed).
//! - **iam-tracker.** The release binary runs `export --store local:... --since FIRST --to
//!   target/bench-export/parquet --force` as a child process; measured with `wait4`: wall
//!   time (reading the store included) and the child's peak RSS. Median of `--reps` runs.
//! - **Original.** `host/benches/export_original.py` with the `target/arrow-venv` Python
//!   (`cargo xtask pyarrow`): per date, the date's items in memory, grouped by region,
//!   normalised row by row, DataFrame with category columns, `from_pandas`, `write_table`.
//!   Timed inside the script from after the date's items are loaded (so the original is
//!   not charged for JSON parsing that a DynamoDB scan would have done), plus the child's
//!   peak RSS.
//! - **Settings.** The library's writer in-process on the same store with other codecs and
//!   without dictionaries: time and total bytes (the measurements behind the choices in
//!   `docs/export-schema.md`).

use std::fmt::Write as _;
use std::io::{BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use iam_tracker::collect::run::stored_event;
use iam_tracker::event::CloudTrailEvent;
use iam_tracker::export::layout;
use iam_tracker::export::object_store::LocalDirStore;
use iam_tracker::export::run::{self, ExportSettings, Quiet};
use iam_tracker::export::writer::{Codec, WriterSettings};
use iam_tracker::store::local::LocalStore;
use iam_tracker::store::{Batch, EventQuery, Progress, Store};
use iam_tracker_lookup_server::generate::{generate_iter, GenerateSpec};

/// 2026-11-01T00:00:00Z, the end of the generated window.
const END_SECS: i64 = 1_793_491_200;
const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "sa-east-1",
    "ca-central-1",
];

struct Args {
    events: usize,
    days: u32,
    regions: usize,
    reps: usize,
    variants: bool,
}

fn args() -> Args {
    let mut a = Args { events: 1_000_000, days: 7, regions: 8, reps: 3, variants: true };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let mut num = |name: &str| -> usize {
            it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match k.as_str() {
            "--events" => a.events = num("--events"),
            "--days" => a.days = num("--days") as u32,
            "--regions" => a.regions = num("--regions").clamp(1, REGIONS.len()),
            "--reps" => a.reps = num("--reps").max(1),
            "--no-variants" => a.variants = false,
            "--bench" => {}
            "--help" | "-h" => {
                println!(
                    "export benchmark\n  --events N     stored events (default 1000000)\n  --days N       days they span (default 7)\n  --regions N    regions of STS events (default 8)\n  --reps N       runs of each exporter (default 3)\n  --no-variants  skip the in-process codec comparison"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other:?} (try --help)"),
        }
    }
    a
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Fill the store (unless it already holds exactly `events`) and dump it per date.
fn prepare(dir: &Path, a: &Args) -> (Vec<String>, u64) {
    let store_dir = dir.join("store");
    let dump = dir.join("dump");
    let dates = |store: &LocalStore| -> Vec<(String, u64)> {
        let first = END_SECS - i64::from(a.days) * 86_400 - 86_400;
        (0..=a.days + 1)
            .map(|i| iam_tracker::timefmt::date_of(first + i64::from(i) * 86_400))
            .map(|d| {
                let n = store.date_count(&d).expect("date_count");
                (d, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    };
    if store_dir.exists() {
        let store = LocalStore::open(&store_dir).expect("open the bench store");
        let have = dates(&store);
        if have.iter().map(|(_, n)| n).sum::<u64>() == a.events as u64 && dump.exists() {
            eprintln!("bench: reusing {} ({} events)", store_dir.display(), a.events);
            return (have.iter().map(|(d, _)| d.clone()).collect(), a.events as u64);
        }
        drop(store);
        std::fs::remove_dir_all(&store_dir).expect("remove the old bench store");
    }
    let t = Instant::now();
    let regions: Vec<String> = REGIONS[..a.regions].iter().map(|r| r.to_string()).collect();
    let spec = GenerateSpec::new(a.events, regions, a.days, END_SECS * 1_000_000);
    let mut store = LocalStore::open(&store_dir).expect("create the bench store");
    let mut batch = Vec::with_capacity(10_000);
    let commit = |store: &mut LocalStore, events: &mut Vec<_>| {
        let b =
            Batch { events: std::mem::take(events), alerts: Vec::new(), progress: Progress::None, task: None, now: 0 };
        store.commit(&b).expect("store a batch");
    };
    for (_, rec) in generate_iter(&spec) {
        let ev = CloudTrailEvent::parse(&rec.to_string()).expect("generated record parses");
        let user = ev.identity.user_name.clone();
        batch.push(stored_event(&ev, user.as_deref(), END_SECS));
        if batch.len() == 10_000 {
            commit(&mut store, &mut batch);
        }
    }
    commit(&mut store, &mut batch);
    eprintln!("bench: stored {} events in {:.1}s", a.events, t.elapsed().as_secs_f64());
    let have = dates(&store);
    let _ = std::fs::remove_dir_all(&dump);
    std::fs::create_dir_all(&dump).expect("dump dir");
    for (d, _) in &have {
        let mut w = BufWriter::new(std::fs::File::create(dump.join(format!("{d}.jsonl"))).expect("dump file"));
        let q = EventQuery { from_date: Some(d.clone()), to_date: Some(d.clone()), ..EventQuery::default() };
        for ev in store.events(&q).expect("read a date") {
            serde_json::to_writer(&mut w, &ev).expect("dump an event");
            w.write_all(b"\n").expect("dump");
        }
    }
    let total = have.iter().map(|(_, n)| n).sum();
    (have.into_iter().map(|(d, _)| d).collect(), total)
}

/// Run a child; wall time, peak RSS (KiB) and stdout.
// The child is reaped with `wait4` (for its rusage), which clippy does not see.
#[allow(clippy::zombie_processes)]
fn measured(cmd: &mut Command) -> (Duration, u64, String) {
    let t = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("spawn");
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        s.read_to_string(&mut out).expect("child stdout");
    }
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for the child we spawned.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: waiting for our own child, with valid pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = t.elapsed();
    assert_eq!(r, pid, "wait4");
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child failed ({status}): {cmd:?}");
    (wall, ru.ru_maxrss as u64, out)
}

fn dir_bytes(dir: &Path) -> (u64, usize) {
    let mut total = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                total.0 += e.metadata().map(|m| m.len()).unwrap_or(0);
                total.1 += 1;
            }
        }
    }
    total
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
}

fn main() {
    let a = args();
    let root = root();
    let dir = root.join("target/bench-export");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let (dates, total) = prepare(&dir, &a);
    let first = dates.first().expect("the store has dates").clone();
    let python = std::env::var_os("IAM_TRACKER_ARROW_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/arrow-venv/bin/python"));
    assert!(python.exists(), "{} is missing: run `cargo xtask pyarrow`", python.display());

    // iam-tracker export, as the CLI.
    let out = dir.join("parquet");
    let bin = env!("CARGO_BIN_EXE_iam-tracker");
    let mut rust_walls = Vec::new();
    let mut rust_rss = 0;
    for _ in 0..a.reps {
        let _ = std::fs::remove_dir_all(&out);
        let (wall, rss, _) = measured(
            Command::new(bin)
                .args(["export", "--store"])
                .arg(format!("local:{}", dir.join("store").display()))
                .args(["--since", &first, "--force", "--to"])
                .arg(&out)
                .env("IAM_TRACKER_NO_PROGRESS", "1")
                .env("IAM_TRACKER_LOG", "warn")
                .stderr(Stdio::null()),
        );
        rust_walls.push(wall.as_secs_f64());
        rust_rss = rust_rss.max(rss);
    }
    let (rust_bytes, rust_files) = dir_bytes(&out);

    // The original's approach.
    let script = root.join("host/benches/export_original.py");
    let orig_out = dir.join("original");
    let mut py_secs = Vec::new();
    let mut py_walls = Vec::new();
    let mut py_rss = 0;
    let mut py_json = serde_json::Value::Null;
    for _ in 0..a.reps {
        let _ = std::fs::remove_dir_all(&orig_out);
        let (wall, rss, stdout) = measured(Command::new(&python).arg(&script).arg(dir.join("dump")).arg(&orig_out));
        py_json = serde_json::from_str(stdout.trim()).expect("the script prints JSON");
        py_secs.push(py_json["seconds"].as_f64().expect("seconds"));
        py_walls.push(wall.as_secs_f64());
        py_rss = py_rss.max(rss);
    }
    assert_eq!(py_json["rows"].as_u64(), Some(total), "the original wrote every row");
    let (py_bytes, py_files) = dir_bytes(&orig_out);

    let rust_wall = median(rust_walls);
    let py_sec = median(py_secs);
    let py_wall = median(py_walls);
    let mut r = String::new();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let _ = writeln!(r, "### Export: {total} events, {} dates, {} regions", dates.len(), a.regions);
    let _ = writeln!(
        r,
        "\n{cores} cores, load average {}; median of {} runs each.\n",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        a.reps
    );
    let _ = writeln!(r, "| exporter | time | events/s | peak RSS | files | size |\n|---|---|---|---|---|---|");
    let _ = writeln!(
        r,
        "| `iam-tracker export` (whole process: store read, rows, zstd Parquet) | {rust_wall:.2} s | {:.0} | {} | {rust_files} | {} |",
        total as f64 / rust_wall,
        mib(rust_rss * 1024),
        mib(rust_bytes)
    );
    let _ = writeln!(
        r,
        "| original: pandas + pyarrow, snappy, 10k row groups (timed part) | {py_sec:.2} s | {:.0} | {} | {py_files} | {} |",
        total as f64 / py_sec,
        mib(py_rss * 1024),
        mib(py_bytes)
    );
    let _ = writeln!(
        r,
        "| original, whole process (with loading the JSON dump) | {py_wall:.2} s | {:.0} | | | |",
        total as f64 / py_wall
    );
    let _ = writeln!(
        r,
        "\nThroughput ratio {:.1}x (against the timed part of the original), peak memory {:.2}x, size {:.2}x.",
        py_sec / rust_wall,
        rust_rss as f64 / py_rss.max(1) as f64,
        rust_bytes as f64 / py_bytes.max(1) as f64
    );

    if a.variants {
        let _ = writeln!(r, "\n#### Writer settings, in process, same store\n\n| codec | dictionaries | time | size |\n|---|---|---|---|");
        let store = LocalStore::open(&dir.join("store")).expect("store");
        let all: Vec<time::Date> = dates.iter().filter_map(|d| layout::parse_iso(d)).collect();
        for (codec, dict) in [
            (Codec::Zstd(1), true),
            (Codec::Snappy, true),
            (Codec::Zstd(3), true),
            (Codec::Zstd(9), true),
            (Codec::Zstd(1), false),
            (Codec::Uncompressed, true),
        ] {
            let vdir = dir.join("variant");
            let _ = std::fs::remove_dir_all(&vdir);
            let sink = LocalDirStore::new(&vdir).expect("variant dir");
            let writer = WriterSettings { codec, dictionaries: dict, ..WriterSettings::default() };
            let s = ExportSettings { force: true, writer, ..ExportSettings::default() };
            let t = Instant::now();
            let rep = run::run(&store, &sink, &all, &s, &mut Quiet);
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(rep.totals().0, total);
            let _ = writeln!(
                r,
                "| {} | {} | {secs:.2} s | {} |",
                codec.label(),
                if dict { "yes" } else { "no" },
                mib(rep.totals().2)
            );
        }
        let _ = std::fs::remove_dir_all(dir.join("variant"));
    }
    let _ = writeln!(
        r,
        "\nThe exported files are in `target/bench-export/parquet/` ({}).",
        layout::day_prefix(layout::parse_iso(&first).expect("date"))
    );
    print!("{r}");
    std::fs::write(root.join("target/bench-export-report.md"), &r).expect("write the report");
}
