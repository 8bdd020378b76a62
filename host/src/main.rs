//! The `iam-tracker` command line. Parses flags, calls the library, and decides exit codes:
//! 0 all good, 1 finished with rejected records or plugin faults (or failed cases),
//! 2 could not run (bad flag, a store that cannot be opened, ...).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use iam_tracker::config::Config;
use iam_tracker::detect;
use iam_tracker::dispatch::{self, Dispatcher, LoadOptions};
use iam_tracker::event::CloudTrailEvent;
use iam_tracker::input::{Origin, Position};
use iam_tracker::plugin::{self, Limits};
use iam_tracker::report::{AlertWriter, Format, Summary};
use iam_tracker::store::spec::StoreSpec;
use iam_tracker::store::view::{self, ViewFormat};
use iam_tracker::store::{EventQuery, Store};
use iam_tracker::timefmt;
use iam_tracker_plugin_sdk::testing::{self, ActualAlert};
use iam_tracker_plugin_sdk::PluginKind;

#[derive(Parser)]
#[command(
    name = "iam-tracker",
    version,
    about = "Watch the IAM side of an AWS account: CloudTrail events through WebAssembly detectors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct PluginArgs {
    /// Folder of third-party plugin components (`X.wasm`, optional `X.cwasm`); repeatable.
    #[arg(long = "plugin-dir", value_name = "DIR")]
    plugin_dirs: Vec<PathBuf>,
    /// Config file (TOML): global settings and per-detector settings.
    #[arg(long, value_name = "FILE", env = "IAM_TRACKER_CONFIG")]
    config: Option<PathBuf>,
    /// Memory cap per plugin, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    plugin_memory_mib: usize,
    /// Wall-clock deadline per plugin call, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    plugin_timeout_ms: u64,
    /// Traps in a row after which a plugin is disabled for the run.
    #[arg(long, value_name = "K", default_value_t = 3)]
    max_plugin_faults: u32,
}

impl PluginArgs {
    fn load_options(&self, only: Vec<String>, no_builtins: bool) -> anyhow::Result<LoadOptions> {
        let config = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        Ok(LoadOptions {
            plugin_dirs: self.plugin_dirs.clone(),
            only,
            no_builtins,
            config,
            limits: Limits {
                memory_bytes: self.plugin_memory_mib << 20,
                call_timeout: Duration::from_millis(self.plugin_timeout_ms),
                max_consecutive_faults: self.max_plugin_faults.max(1),
            },
        })
    }
}

#[derive(clap::Args, Clone)]
struct StoreArgs {
    /// Where events, checkpoints and alerts are stored: `local:DIR`, `dynamodb` (tables from
    /// EVENTS_TABLE_NAME, CONTROL_TABLE_NAME, ALERTS_TABLE_NAME) or `dynamodb:STACK`
    /// (STACK-events, STACK-control, STACK-alerts; AWS settings from the SDK chain, e.g.
    /// AWS_ENDPOINT_URL). Default: the local store in `$IAM_TRACKER_DATA_DIR`, else
    /// `$XDG_DATA_HOME/iam-tracker`, else `~/.local/share/iam-tracker`.
    #[arg(long, value_name = "local:DIR|dynamodb[:STACK]")]
    store: Option<String>,
}

impl StoreArgs {
    /// The store named by `--store`, else the default local store.
    fn spec(&self) -> anyhow::Result<StoreSpec> {
        match &self.store {
            Some(t) => StoreSpec::parse(t).context("bad --store"),
            None => Ok(StoreSpec::default_local()?),
        }
    }

    /// Open a store that must already exist (read-back commands).
    fn open_existing(&self) -> anyhow::Result<Box<dyn Store>> {
        Ok(self.spec()?.open_existing()?)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the detectors over CloudTrail records (files, folders, gzip, `-` for stdin).
    Detect {
        /// Inputs: a record, an array, a trail file ({"Records": [...]}), JSON Lines, gzip of
        /// any of these, folders (recursive), or `-` for stdin.
        #[arg(value_name = "PATH|-", required = true)]
        paths: Vec<PathBuf>,
        /// Output format (text is coloured on a terminal).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Run only this detector; repeatable.
        #[arg(long = "only", value_name = "ID")]
        only: Vec<String>,
        /// Largest accepted record, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = iam_tracker::event::DEFAULT_MAX_RECORD_BYTES)]
        max_record_bytes: usize,
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Collect CloudTrail events into the store, run the detectors, deliver the alerts.
    ///
    /// Sources: CloudTrail LookupEvents in every enabled region (the default; AWS settings
    /// from the standard SDK chain, including AWS_ENDPOINT_URL), or trail log files in a
    /// folder or under an S3 prefix. Environment: PROCESS_IAM_EVENTS, PROCESS_STS_EVENTS,
    /// PROCESS_SIGNIN_EVENTS, PROCESS_SSO_EVENTS, SSO_REGION, MAX_WORKERS,
    /// FILTER_AWS_SERVICE_EVENTS, FILTERED_ROLES.
    Collect(CollectArgs),
    /// Export stored events as Parquet, one file per (date, region), to a directory or S3.
    ///
    /// Exports the dates not exported yet, changed since, or still open (within the
    /// lateness window), from EXPORT_DAYS_BACK days ago to today; `--since` backfills,
    /// `--date` picks one day. Layout, manifest and rules: docs/export-schema.md.
    Export(ExportArgs),
    /// Read back stored events, oldest first.
    Events {
        #[command(flatten)]
        store: StoreArgs,
        /// Only this day (UTC).
        #[arg(long, value_name = "YYYY-MM-DD", conflicts_with = "since")]
        date: Option<String>,
        /// Only events at or after this time: a date, an RFC 3339 time or a duration (12h, 7d).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Only events of this user (the extracted user name).
        #[arg(long, value_name = "U")]
        user: Option<String>,
        /// Only events with this eventName.
        #[arg(long = "event-name", value_name = "N")]
        event_name: Option<String>,
        /// At most this many events.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        #[arg(long, value_enum, default_value_t = ViewFormat::Table)]
        format: ViewFormat,
    },
    /// Read back recorded alerts (sent and pending), oldest first.
    Alerts {
        #[command(flatten)]
        store: StoreArgs,
        /// Only alerts recorded at or after this time: a date, an RFC 3339 time or a duration.
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Only alerts not delivered yet.
        #[arg(long)]
        pending: bool,
        #[arg(long, value_enum, default_value_t = ViewFormat::Table)]
        format: ViewFormat,
    },
    /// Create a store: the DynamoDB tables (keys, GSIs, TTL; PAY_PER_REQUEST) for local or test
    /// use, or a local store's directory. Existing tables are reported, not an error. In AWS the
    /// SAM template owns the tables.
    Init {
        /// `dynamodb`, `dynamodb:STACK` or `local:DIR`.
        #[arg(long, value_name = "dynamodb[:STACK]|local:DIR")]
        store: String,
        /// Send every AWS request to this endpoint (a local server); default: the SDK chain.
        #[arg(long, value_name = "URL")]
        endpoint_url: Option<String>,
    },
    /// The 15 pre-built analytics queries over the exported Parquet (Athena or local DuckDB).
    Query {
        #[command(subcommand)]
        command: QueryCommand,
    },
    /// List or test plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// List the loaded plugins.
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Run a component (or every component in a folder) against test cases.
    Test {
        /// A component (`.wasm`) or a folder of components.
        #[arg(value_name = "PLUGIN.wasm|DIR")]
        plugin: PathBuf,
        /// Folder of cases: `<name>.json` records with `<name>.expected.json` results.
        #[arg(long, value_name = "DIR")]
        cases: PathBuf,
        #[command(flatten)]
        plugins: PluginArgs,
    },
}

#[derive(Subcommand)]
enum QueryCommand {
    /// List the queries: name, title, description, parameters (needs no credentials).
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Run a query and print its rows.
    Run(QueryRunArgs),
    /// Print a query's SQL as it would run (parameters filled in).
    Show(QueryRunArgs),
    /// Print the Athena CREATE EXTERNAL TABLE (partition projection) of the exported table.
    Ddl {
        /// `s3://bucket/prefix/` holding the `year=...` folders (default: a placeholder).
        #[arg(long, value_name = "S3URI")]
        location: Option<String>,
        /// Qualify the table with this Glue database.
        #[arg(long, value_name = "DB")]
        database: Option<String>,
        /// Regions of the projection (default: every commercial region, and `unknown`).
        #[arg(long, value_name = "R1,R2", value_delimiter = ',')]
        regions: Vec<String>,
        /// First and last year of the projection (default 2020,2040).
        #[arg(long, value_name = "FROM,TO")]
        years: Option<String>,
        /// Print the machine-readable table definition (JSON) instead of SQL.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EngineKind {
    /// Amazon Athena over the S3 export (ATHENA_DATABASE, ATHENA_WORKGROUP, ATHENA_OUTPUT_LOCATION).
    Athena,
    /// Embedded DuckDB over the local export (`--data`).
    Local,
}

/// The `query run` / `query show` flags.
#[derive(clap::Args)]
struct QueryRunArgs {
    /// The query (see `query list`).
    name: String,
    /// Where it runs.
    #[arg(long, value_enum, default_value_t = EngineKind::Local)]
    engine: EngineKind,
    /// The last N days (default: the query's own window).
    #[arg(long, value_name = "N")]
    days: Option<u32>,
    /// Only this user (user_lookup).
    #[arg(long, value_name = "U")]
    user: Option<String>,
    /// The window ends on this UTC date (default: today), for reproducible reports.
    #[arg(long, value_name = "YYYY-MM-DD")]
    as_of: Option<String>,
    /// First off-hours hour, UTC (off_hours).
    #[arg(long, value_name = "H", default_value_t = 23)]
    off_hours_start: u8,
    /// First working hour after the off-hours window, UTC (off_hours).
    #[arg(long, value_name = "H", default_value_t = 6)]
    off_hours_end: u8,
    /// Count every weekend hour as off-hours too (off_hours).
    #[arg(long)]
    weekends: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = iam_tracker::analytics::output::OutputFormat::Table)]
    format: iam_tracker::analytics::output::OutputFormat,
    /// Local engine: the export directory (holding `iam-events/`). Default: the default local
    /// store's `export/` folder.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Athena: Glue database (default: $ATHENA_DATABASE, else iam_activity_tracker_database).
    #[arg(long, value_name = "DB")]
    database: Option<String>,
    /// Athena: workgroup (default: $ATHENA_WORKGROUP, else primary).
    #[arg(long, value_name = "WG")]
    workgroup: Option<String>,
    /// Athena: s3:// location for results (default: $ATHENA_OUTPUT_LOCATION, else the workgroup's).
    #[arg(long, value_name = "S3URI")]
    output_location: Option<String>,
    /// Athena: give up after this long (e.g. 5m).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    timeout: String,
    /// Athena: send every AWS request to this endpoint (a local server).
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
}

impl QueryRunArgs {
    fn params(&self) -> anyhow::Result<iam_tracker::analytics::queries::Params> {
        use iam_tracker::analytics::queries::{OffHours, Params};
        let today = match &self.as_of {
            Some(d) => timefmt::parse_date(d)
                .ok_or_else(|| anyhow::anyhow!("bad --as-of: `{d}` is not a date (YYYY-MM-DD)"))?,
            None => timefmt::now(),
        };
        let today = time::OffsetDateTime::from_unix_timestamp(today).context("--as-of out of range")?.date();
        Ok(Params {
            days: self.days,
            user: self.user.clone(),
            off_hours: OffHours { start: self.off_hours_start, end: self.off_hours_end, weekends: self.weekends },
            ..Params::new(today)
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ListFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `collect` reports progress as log lines when stderr is not a terminal.
    init_logging(if matches!(cli.command, Command::Collect(_) | Command::Export(_)) { "info" } else { "warn" });
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("iam-tracker: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IAM_TRACKER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Detect { paths, format, only, max_record_bytes, plugins } => {
            detect_cmd(&paths, format, only, max_record_bytes, &plugins)
        }
        Command::Collect(args) => collect_cmd(args),
        Command::Export(args) => export_cmd(args),
        Command::Events { store, date, since, user, event_name, limit, format } => {
            events_cmd(&store, date.as_deref(), since.as_deref(), user, event_name, limit, format)
        }
        Command::Alerts { store, since, pending, format } => alerts_cmd(&store, since.as_deref(), pending, format),
        Command::Init { store, endpoint_url } => init_cmd(&store, endpoint_url.as_deref()),
        Command::Query { command: QueryCommand::List { format } } => query_list_cmd(format),
        Command::Query { command: QueryCommand::Run(args) } => query_run_cmd(&args, false),
        Command::Query { command: QueryCommand::Show(args) } => query_run_cmd(&args, true),
        Command::Query { command: QueryCommand::Ddl { location, database, regions, years, json } } => {
            query_ddl_cmd(location, database, regions, years.as_deref(), json)
        }
        Command::Plugins { command: PluginsCommand::List { format, plugins } } => list_cmd(format, &plugins),
        Command::Plugins { command: PluginsCommand::Test { plugin, cases, plugins } } => {
            test_cmd(&plugin, &cases, &plugins)
        }
    }
}

fn load(opts: &LoadOptions) -> anyhow::Result<Dispatcher> {
    let started = Instant::now();
    let d = dispatch::load(opts)?;
    tracing::debug!(elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "plugins ready");
    if std::env::var_os("IAM_TRACKER_TIMINGS").is_some() {
        eprintln!("timing: plugins ready in {:.2} ms", started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(d)
}

fn detect_cmd(
    paths: &[PathBuf],
    format: Format,
    only: Vec<String>,
    max_record_bytes: usize,
    plugins: &PluginArgs,
) -> anyhow::Result<u8> {
    let opts = plugins.load_options(only, false)?;
    let mut d = load(&opts)?;
    if !d.has_extractor() {
        anyhow::bail!("no user-name extractor is loaded (is `user-name` disabled in the config?)");
    }
    let stdout = std::io::stdout();
    let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut writer = AlertWriter::new(std::io::BufWriter::new(stdout.lock()), format, color);
    let mut write_err = None;
    let summary = detect::run_paths(&mut d, paths, &detect::Options { max_record_bytes }, &mut |a| {
        if write_err.is_none() {
            if let Err(e) = writer.write(&a) {
                write_err = Some(e);
            }
        }
    });
    if let Some(e) = write_err {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("cannot write alerts");
        }
    }
    writer.finish().context("cannot write alerts")?;
    let stderr = std::io::stderr();
    let color = stderr.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    summary.print(&mut stderr.lock(), color)?;
    Ok(summary.exit_code() as u8)
}

/// The `collect` flags.
#[derive(clap::Args)]
struct CollectArgs {
    /// `cloudtrail`, `trail:PATH`, `trail:s3://BUCKET/PREFIX` or `s3://BUCKET/PREFIX`.
    #[arg(long, value_name = "SOURCE", default_value = "cloudtrail")]
    source: String,
    #[command(flatten)]
    store: StoreArgs,
    /// Where alerts go: `stdout`, `file:PATH` (JSON Lines), `sns:TOPIC_ARN`, or `sns` for the
    /// topic in $ALERTS_SNS_TOPIC_ARN; repeatable.
    #[arg(long = "alerts", value_name = "SINK", default_value = "stdout")]
    alerts: Vec<String>,
    /// Format of alerts on stdout (text is coloured on a terminal).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Only these regions (comma-separated); skips region discovery.
    #[arg(long, value_name = "R1,R2", value_delimiter = ',')]
    regions: Vec<String>,
    /// Backfill: read from this time (a date, an RFC 3339 time or a duration like 30d),
    /// at most 90 days back.
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Read and detect (alerts on stdout), but store nothing and deliver nothing.
    #[arg(long)]
    dry_run: bool,
    /// Stop starting new work after this long (e.g. 10m, 90s); checkpoints stay consistent.
    #[arg(long, value_name = "DURATION")]
    deadline: Option<String>,
    /// How long an alert's dedup key suppresses repeats (e.g. 30d, 24h).
    #[arg(long, value_name = "DURATION", default_value = "30d")]
    dedup_window: String,
    /// Send every AWS request to this endpoint (a local server); default: the SDK chain.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Also write the run report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// Largest accepted record, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = iam_tracker::event::DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: usize,
    #[command(flatten)]
    plugins: PluginArgs,
}

/// A duration flag (`90s`, `10m`, `12h`, `30d`) in seconds.
fn duration_flag(flag: &str, text: &str) -> anyhow::Result<i64> {
    timefmt::parse_duration(text)
        .ok_or_else(|| anyhow::anyhow!("bad {flag}: `{text}` is not a duration (90s, 10m, 12h, 30d)"))
}

fn collect_cmd(a: CollectArgs) -> anyhow::Result<u8> {
    use iam_tracker::collect::driver::{self, CollectRequest, SourceSpec};
    use iam_tracker::collect::lookup::SourceSettings;
    use iam_tracker::collect::run::CollectSettings;
    use iam_tracker::collect::trail::TrailSettings;
    use iam_tracker::collect::Deadline;
    use iam_tracker::filters::Filters;
    use iam_tracker::sink::SinkSpec;

    let source = SourceSpec::parse(&a.source).map_err(|e| anyhow::anyhow!("bad --source: {e}"))?;
    let store = a.store.spec()?;
    let sinks = a
        .alerts
        .iter()
        .map(|t| SinkSpec::parse(t).map_err(|e| anyhow::anyhow!("bad --alerts: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let since = parse_since_flag(a.since.as_deref())?;
    let regions = (!a.regions.is_empty()).then(|| a.regions.clone());
    let mut lookup = SourceSettings::from_env().map_err(|e| anyhow::anyhow!("{e}"))?;
    lookup.since = since;
    if regions.is_some() {
        lookup.regions = regions.clone();
    }
    let trail = TrailSettings { since, regions, ..TrailSettings::default() };
    let filters = Filters::from_env().map_err(|e| anyhow::anyhow!("{e}"))?;
    let settings = CollectSettings {
        dry_run: a.dry_run,
        dedup_window: duration_flag("--dedup-window", &a.dedup_window)?,
        max_record_bytes: a.max_record_bytes,
        filters,
        ..CollectSettings::default()
    };
    let deadline = match &a.deadline {
        Some(d) => Deadline::after(Duration::from_secs(duration_flag("--deadline", d)?.max(0) as u64)),
        None => Deadline::none(),
    };
    let stdout_tty = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let stderr = std::io::stderr();
    let stderr_tty = stderr.is_terminal();
    let req = CollectRequest {
        source,
        store,
        sinks,
        stdout_format: a.format,
        color: stdout_tty,
        lookup,
        trail,
        settings,
        load: a.plugins.load_options(Vec::new(), false)?,
        deadline,
        endpoint_url: a.endpoint_url,
        progress_bars: stderr_tty && std::env::var_os("IAM_TRACKER_NO_PROGRESS").is_none(),
    };
    let report = driver::run(req)?;
    if let Some(path) = &a.report_json {
        let text = serde_json::to_string_pretty(&report).context("cannot encode the run report")?;
        std::fs::write(path, text).with_context(|| format!("cannot write the run report to {}", path.display()))?;
    }
    let color = stderr_tty && std::env::var_os("NO_COLOR").is_none();
    iam_tracker::collect::progress::print_report(&report, &mut stderr.lock(), color)?;
    Ok(report.exit_code() as u8)
}

fn init_cmd(store: &str, endpoint_url: Option<&str>) -> anyhow::Result<u8> {
    let spec = StoreSpec::parse(store).context("bad --store")?;
    match &spec {
        StoreSpec::Local(_) => {
            spec.open()?;
            eprintln!("{spec}: ready");
            Ok(0)
        }
        #[cfg(feature = "aws")]
        StoreSpec::DynamoDb { .. } => {
            let tables = spec.dynamodb(endpoint_url)?.create_tables()?;
            let mut out = std::io::stdout().lock();
            for t in &tables {
                let what = if t.created { "created" } else { "already exists" };
                let ttl = if t.ttl_enabled { ", TTL on `ttl`" } else { "" };
                writeln!(out, "table {}: {what}{ttl}", t.name)?;
                if !t.missing_indexes.is_empty() {
                    writeln!(
                        out,
                        "  warning: table {} lacks the index(es) {} this version needs; add them with UpdateTable \
                         (see docs/architecture.md, \"DynamoDB store\")",
                        t.name,
                        t.missing_indexes.join(", ")
                    )?;
                }
            }
            Ok(if tables.iter().any(|t| !t.missing_indexes.is_empty()) { 1 } else { 0 })
        }
        #[cfg(not(feature = "aws"))]
        StoreSpec::DynamoDb { .. } => {
            let _ = endpoint_url;
            anyhow::bail!("{spec}: this build has no AWS support (feature `aws`)")
        }
    }
}

/// The `export` flags.
#[derive(clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only this day (UTC).
    #[arg(long, value_name = "YYYY-MM-DD", conflicts_with = "since")]
    date: Option<String>,
    /// Backfill: every day from this one (a date or a duration like 30d) to today.
    #[arg(long, value_name = "D")]
    since: Option<String>,
    /// Where the files go: a directory or s3://BUCKET/PREFIX. Default: `export/` in the
    /// local store's directory.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    to: Option<String>,
    /// Send every AWS request to this endpoint (a local server); default: the SDK chain.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Without --date/--since: look at this many days back from today.
    #[arg(long, value_name = "N", env = "EXPORT_DAYS_BACK", default_value_t = 7)]
    days_back: u32,
    /// A date stays open (re-exported every run) until this long after its end.
    #[arg(long, value_name = "DURATION", env = "EXPORT_LATENESS", default_value = "2d")]
    lateness: String,
    /// Export every date of the range, even the unchanged ones.
    #[arg(long)]
    force: bool,
    /// Also write the run report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
}

fn export_cmd(a: ExportArgs) -> anyhow::Result<u8> {
    use iam_tracker::export::object_store::{ExportTarget, LocalDirStore, ObjectStore};
    use iam_tracker::export::{layout, progress, run};
    use iam_tracker::store::spec::StoreSpec;

    let now = timefmt::now();
    let day = |flag: &str, epoch: i64| -> anyhow::Result<time::Date> {
        layout::parse_iso(&timefmt::date_of(epoch)).ok_or_else(|| anyhow::anyhow!("bad {flag}: out of range"))
    };
    let today = day("clock", now)?;
    let dates = match (&a.date, &a.since) {
        (Some(d), _) => vec![layout::parse_iso(d.trim())
            .ok_or_else(|| anyhow::anyhow!("bad --date: `{d}` is not a date (YYYY-MM-DD)"))?],
        (None, Some(s)) => {
            let from = timefmt::parse_since(s, now).map_err(|e| anyhow::anyhow!("bad --since: {e}"))?;
            run::date_range(day("--since", from)?, today)
        }
        (None, None) => run::date_range(day("--days-back", now - i64::from(a.days_back) * 86_400)?, today),
    };
    let settings = run::ExportSettings {
        lateness: duration_flag("--lateness", &a.lateness)?,
        force: a.force,
        now,
        ..run::ExportSettings::default()
    };
    let spec = a.store.spec()?;
    let target = match (&a.to, &spec) {
        (Some(t), _) => ExportTarget::parse(t).map_err(|e| anyhow::anyhow!("bad --to: {e}"))?,
        (None, StoreSpec::Local(dir)) => ExportTarget::Local(dir.join("export")),
        // The Lambda's variable: the stack's analytics bucket.
        (None, _) => match std::env::var("ANALYTICS_BUCKET_NAME").ok().filter(|b| !b.trim().is_empty()) {
            Some(bucket) => ExportTarget::S3 { bucket: bucket.trim().to_string(), prefix: String::new() },
            None => anyhow::bail!(
                "{spec}: give --to DIR|s3://BUCKET/PREFIX (or set ANALYTICS_BUCKET_NAME) for where the files go"
            ),
        },
    };
    let store = spec.open_existing_at(a.endpoint_url.as_deref())?;
    let sink: Box<dyn ObjectStore> = match target {
        ExportTarget::Local(dir) => Box::new(LocalDirStore::new(&dir)?),
        #[cfg(feature = "aws")]
        ExportTarget::S3 { bucket, prefix } => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let conf = rt.block_on(iam_tracker::aws::sdk_config(a.endpoint_url.as_deref()));
            Box::new(iam_tracker::aws::s3_put::S3ObjectStore::from_sdk_config(&conf, bucket, &prefix)?)
        }
        #[cfg(not(feature = "aws"))]
        ExportTarget::S3 { .. } => anyhow::bail!("bad --to: this build has no S3 support (feature `aws`)"),
    };
    let bars = std::io::stderr().is_terminal() && std::env::var_os("IAM_TRACKER_NO_PROGRESS").is_none();
    let report = if bars {
        let mut bar = progress::Bar::default();
        run::run(store.as_ref(), sink.as_ref(), &dates, &settings, &mut bar)
    } else {
        run::run(store.as_ref(), sink.as_ref(), &dates, &settings, &mut progress::Logs)
    };
    if let Some(path) = &a.report_json {
        let text = serde_json::to_string_pretty(&report).context("cannot encode the export report")?;
        std::fs::write(path, text).with_context(|| format!("cannot write the export report to {}", path.display()))?;
    }
    progress::print_report(&report, &mut std::io::stderr().lock())?;
    let attempted: Vec<_> = report.dates.iter().filter(|d| d.decision.exports() || d.error.is_some()).collect();
    if !attempted.is_empty() && attempted.iter().all(|d| d.error.is_some()) {
        return Ok(2);
    }
    Ok(report.exit_code() as u8)
}

fn parse_since_flag(since: Option<&str>) -> anyhow::Result<Option<i64>> {
    since.map(|t| timefmt::parse_since(t, timefmt::now()).map_err(|e| anyhow::anyhow!("bad --since: {e}"))).transpose()
}

/// Write read-back output; a closed pipe (`| head`) is not an error.
fn finish_output(result: std::io::Result<()>) -> anyhow::Result<u8> {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("cannot write to stdout"),
        _ => Ok(0),
    }
}

fn events_cmd(
    store: &StoreArgs,
    date: Option<&str>,
    since: Option<&str>,
    user_name: Option<String>,
    event_name: Option<String>,
    limit: Option<usize>,
    format: ViewFormat,
) -> anyhow::Result<u8> {
    let day = match date {
        Some(d) => match timefmt::parse_date(d) {
            Some(e) => Some(timefmt::date_of(e)),
            None => anyhow::bail!("bad --date: `{d}` is not a date (YYYY-MM-DD)"),
        },
        None => None,
    };
    let query = EventQuery {
        from_date: day.clone(),
        to_date: day,
        since: parse_since_flag(since)?,
        user_name,
        event_name,
        limit,
    };
    let store = store.open_existing()?;
    let events = store.events(&query)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    finish_output(view::write_events(&mut out, &events, format))
}

fn query_list_cmd(format: ListFormat) -> anyhow::Result<u8> {
    use iam_tracker::analytics::queries::QUERIES;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = match format {
        ListFormat::Json => {
            let list: Vec<serde_json::Value> = QUERIES
                .iter()
                .map(|q| {
                    serde_json::json!({
                        "name": q.name,
                        "title": q.title,
                        "description": q.description,
                        "default_days": q.default_days,
                        "params": q.params.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    })
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&list)?)
        }
        ListFormat::Text => {
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
            t.set_header(["name", "title", "default window", "parameters", "description"]);
            for q in QUERIES {
                let params: Vec<String> = q.params.iter().map(ToString::to_string).collect();
                t.add_row([
                    q.name.to_string(),
                    q.title.to_string(),
                    format!("{} days", q.default_days),
                    params.join("\n"),
                    q.description.to_string(),
                ]);
            }
            writeln!(out, "{t}")
        }
    };
    finish_output(result.and_then(|()| out.flush()))
}

fn query_ddl_cmd(
    location: Option<String>,
    database: Option<String>,
    regions: Vec<String>,
    years: Option<&str>,
    json: bool,
) -> anyhow::Result<u8> {
    use iam_tracker::analytics::ddl::{self, TableSpec};
    let plain = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let mut spec = TableSpec::default();
    if let Some(l) = location {
        if !l.starts_with("s3://") || l.contains(['\'', '\\']) {
            anyhow::bail!("bad --location: `{l}` is not an s3:// URI without quotes");
        }
        spec.location = l;
    }
    if let Some(d) = database {
        if !plain(&d) {
            anyhow::bail!("bad --database: `{d}` (letters, digits, `_` and `-` only)");
        }
        spec.database = Some(d);
    }
    if !regions.is_empty() {
        if let Some(r) = regions.iter().find(|r| !plain(r)) {
            anyhow::bail!("bad --regions: `{r}` is not a region name");
        }
        spec.regions = regions;
    }
    if let Some(y) = years {
        let parsed = y.split_once(',').and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
        match parsed {
            Some((a, b)) if a <= b => spec.years = (a, b),
            _ => anyhow::bail!("bad --years: `{y}` (FROM,TO, e.g. 2020,2040)"),
        }
    }
    if json {
        print!("{}", ddl::columns_json(&spec));
    } else {
        print!("{}", ddl::create_table(&spec));
    }
    Ok(0)
}

fn query_run_cmd(a: &QueryRunArgs, show_only: bool) -> anyhow::Result<u8> {
    use iam_tracker::analytics::queries::{self, Dialect};
    use iam_tracker::analytics::QueryEngine;
    let q = queries::find(&a.name)?;
    let params = a.params()?;
    let dialect = match a.engine {
        EngineKind::Athena => Dialect::Athena,
        EngineKind::Local => Dialect::DuckDb,
    };
    let sql = queries::render(q, dialect, &params)?;
    if show_only {
        println!("{sql}");
        return Ok(0);
    }
    let mut engine: Box<dyn QueryEngine> = match a.engine {
        EngineKind::Local => local_engine(a.data.clone())?,
        EngineKind::Athena => athena_engine(a)?,
    };
    let (result, stats) = engine.run(q.name, &sql)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = iam_tracker::analytics::output::write(&mut out, &result, a.format).and_then(|()| out.flush());
    finish_output(written)?;
    eprintln!("{}: {} rows, {}", q.name, result.rows.len(), stats.summary_line());
    Ok(0)
}

#[cfg(feature = "local-sql")]
fn local_engine(data: Option<PathBuf>) -> anyhow::Result<Box<dyn iam_tracker::analytics::QueryEngine>> {
    let dir = match data {
        Some(d) => d,
        None => iam_tracker::store::local::LocalStore::default_dir()?.join("export"),
    };
    Ok(Box::new(iam_tracker::analytics::local::LocalEngine::open(&dir)?))
}

#[cfg(not(feature = "local-sql"))]
fn local_engine(_data: Option<PathBuf>) -> anyhow::Result<Box<dyn iam_tracker::analytics::QueryEngine>> {
    anyhow::bail!("this build has no local SQL engine (built without the `local-sql` feature); use --engine athena")
}

#[cfg(feature = "aws")]
fn athena_engine(a: &QueryRunArgs) -> anyhow::Result<Box<dyn iam_tracker::analytics::QueryEngine>> {
    use iam_tracker::aws::athena::{AthenaEngine, AthenaSettings};
    let mut settings = AthenaSettings::from_env();
    if let Some(d) = &a.database {
        settings.database = d.clone();
    }
    if let Some(w) = &a.workgroup {
        settings.workgroup = w.clone();
    }
    if let Some(o) = &a.output_location {
        settings.output_location = Some(o.clone());
    }
    settings.timeout = Duration::from_secs(duration_flag("--timeout", &a.timeout)?.max(1) as u64);
    Ok(Box::new(AthenaEngine::from_env(a.endpoint_url.as_deref(), settings)?))
}

#[cfg(not(feature = "aws"))]
fn athena_engine(_a: &QueryRunArgs) -> anyhow::Result<Box<dyn iam_tracker::analytics::QueryEngine>> {
    anyhow::bail!("this build has no AWS support (built without the `aws` feature)")
}

fn alerts_cmd(store: &StoreArgs, since: Option<&str>, pending: bool, format: ViewFormat) -> anyhow::Result<u8> {
    let since = parse_since_flag(since)?;
    let store = store.open_existing()?;
    let alerts = if pending {
        let mut a = store.pending_alerts()?;
        a.retain(|a| since.is_none_or(|s| a.created_at >= s));
        a
    } else {
        store.alerts(since)?
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    finish_output(view::write_alerts(&mut out, &alerts, format))
}

fn list_cmd(format: ListFormat, plugins: &PluginArgs) -> anyhow::Result<u8> {
    let opts = plugins.load_options(Vec::new(), false)?;
    let d = load(&opts)?;
    let rows: Vec<serde_json::Value> = d
        .plugins()
        .map(|p| {
            serde_json::json!({
                "id": p.info.id,
                "kind": p.info.kind,
                "version": p.info.version,
                "interface_version": p.load.interface_version,
                "default_severity": p.info.default_severity,
                "subscriptions": p.info.subscriptions.iter().map(|s| format!("{}/{}", s.event_source, s.event_name)).collect::<Vec<_>>(),
                "source": p.source.to_string(),
                "precompiled": p.load.precompiled,
            })
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match format {
        ListFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        ListFormat::Text => {
            writeln!(
                out,
                "{:<30} {:<9} {:<8} {:<9} {:<8} {:<10} SUBSCRIPTIONS",
                "ID", "KIND", "VERSION", "INTERFACE", "SEVERITY", "SOURCE"
            )?;
            for p in d.plugins() {
                let subs: Vec<String> = p
                    .info
                    .subscriptions
                    .iter()
                    .map(|s| format!("{}/{}", s.event_source.trim_end_matches(".amazonaws.com"), s.event_name))
                    .collect();
                writeln!(
                    out,
                    "{:<30} {:<9} {:<8} {:<9} {:<8} {:<10} {}",
                    p.info.id,
                    format!("{:?}", p.info.kind).to_lowercase(),
                    p.info.version,
                    p.load.interface_version,
                    p.info.default_severity.as_str(),
                    p.source.to_string(),
                    subs.join(", ")
                )?;
            }
        }
    }
    Ok(0)
}

fn test_cmd(plugin: &std::path::Path, cases_dir: &std::path::Path, plugins: &PluginArgs) -> anyhow::Result<u8> {
    let cases = testing::load_cases(cases_dir).map_err(anyhow::Error::msg)?;
    if cases.is_empty() {
        anyhow::bail!("{}: no cases found (expected <name>.json with <name>.expected.json)", cases_dir.display());
    }
    let mut opts = plugins.load_options(Vec::new(), true)?;
    // Test exactly the given component(s); keep the built-in extractor so detectors see
    // the same actor as in production.
    let dir = if plugin.is_dir() {
        plugin.to_path_buf()
    } else {
        let tmp = std::env::temp_dir().join(format!("iam-tracker-test-{}", std::process::id()));
        std::fs::create_dir_all(&tmp)?;
        let stem = plugin.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin");
        std::fs::copy(plugin, tmp.join(format!("{stem}.wasm")))
            .with_context(|| format!("cannot read {}", plugin.display()))?;
        let cw = plugin.with_extension("cwasm");
        if cw.exists() {
            std::fs::copy(&cw, tmp.join(format!("{stem}.cwasm")))?;
        }
        tmp
    };
    opts.plugin_dirs = vec![dir];
    let host = plugin::PluginHost::new(opts.limits.clone())?;
    let config_for = |id: &str| opts.config.plugin_config(id);
    let under_test = host.load_dir(&opts.plugin_dirs[0], &config_for)?;
    if under_test.is_empty() {
        anyhow::bail!("{}: no components found", plugin.display());
    }
    let ids: Vec<String> = under_test.iter().map(|p| p.id().to_string()).collect();
    let kinds: Vec<PluginKind> = under_test.iter().map(|p| p.kind()).collect();
    let mut all = under_test;
    if !kinds.contains(&PluginKind::Extractor) {
        all.extend(host.load_builtins(&config_for)?.into_iter().filter(|p| p.kind() == PluginKind::Extractor));
    }
    let mut d = Dispatcher::new(all)?;
    let mut failed = 0usize;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<6} CASE", "RESULT")?;
    for case in &cases {
        let result = run_case(&mut d, &ids, &kinds, case);
        match result {
            Ok(()) => writeln!(out, "{:<6} {}", "pass", case.name)?,
            Err(diff) => {
                failed += 1;
                writeln!(out, "{:<6} {}", "FAIL", case.name)?;
                for line in diff.lines() {
                    writeln!(out, "         {line}")?;
                }
            }
        }
    }
    writeln!(out, "{} passed, {} failed", cases.len() - failed, failed)?;
    Ok(if failed > 0 { 1 } else { 0 })
}

fn run_case(d: &mut Dispatcher, ids: &[String], kinds: &[PluginKind], case: &testing::Case) -> Result<(), String> {
    let ev = CloudTrailEvent::parse(&case.record).map_err(|e| format!("record rejected by the host: {e}"))?;
    let origin = Origin { file: case.record_path.display().to_string(), position: Position::Record(0) };
    let mut alerts = Vec::new();
    let mut summary = Summary::default();
    let ev = Arc::new(ev);
    detect::process_event(d, ev.clone(), &origin, &mut |a| alerts.push(a), &mut summary);
    if let Some(f) = summary.faults.iter().find(|f| ids.contains(&f.plugin)) {
        return Err(format!("plugin {} faulted: {}: {}", f.plugin, f.kind, f.message));
    }
    if let Some(expected) = &case.expected.alerts {
        let actual: Vec<ActualAlert> = alerts
            .iter()
            .filter(|a| ids.contains(&a.detector))
            .map(|a| ActualAlert {
                detector: a.detector.clone(),
                severity: a.severity,
                title: a.title.clone(),
                message: a.message.clone(),
            })
            .collect();
        testing::compare_alerts(expected, &actual)?;
    }
    if let Some(expected) = &case.expected.user_name {
        if !kinds.contains(&PluginKind::Extractor) {
            return Err("case expects a user_name but no extractor is under test".into());
        }
        let name = d.extract_only(ev).map_err(|f| format!("extractor faulted: {}: {}", f.kind.as_str(), f.message))?;
        testing::compare_user_name(expected, name.as_deref())?;
    }
    Ok(())
}
