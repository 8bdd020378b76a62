//! `cargo xtask ddl [--check]` and `cargo xtask bench-queries`.
//!
//! - `ddl` writes `deploy/athena/iam_events.sql` and `deploy/athena/iam_events.columns.json`
//!   from `iam-tracker query ddl [--json]` (generated from `host/src/export/schema.rs`), and
//!   the block of `template.yaml` between `# GENERATED-GLUE-TABLE` and
//!   `# END-GENERATED-GLUE-TABLE`: the `AWS::Glue::Table` built from that same JSON and one
//!   `AWS::Athena::NamedQuery` per pre-built query (`iam-tracker query list` / `query show`);
//!   `--check` fails when any of them differs (run by `cargo xtask test`).
//! - `bench-queries [--data DIR] [--runs N] [--days N] [--as-of DATE]`: runs each of the 15
//!   queries on the local engine N times (release build without the AWS SDK) and prints the
//!   median time per query as the engine reports it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The generated files and the `iam-tracker query ddl` flags that print them.
const FILES: &[(&str, &[&str])] =
    &[("deploy/athena/iam_events.sql", &[]), ("deploy/athena/iam_events.columns.json", &["--json"])];

/// The template that holds the generated Glue table and named queries.
const TEMPLATE: &str = "template.yaml";

/// Regenerate (or check) the checked-in Athena DDL and the template's generated block.
pub fn ddl(root: &Path, check: bool) -> Result<()> {
    let bin = crate::tasks::host_binary(root)?;
    let mut stale = Vec::new();
    let mut glue_json = Vec::new();
    let mut outputs: Vec<(&str, Vec<u8>)> = Vec::new();
    for (path, flags) in FILES {
        let out = Command::new(&bin).args(["query", "ddl"]).args(*flags).output().context("cannot run iam-tracker")?;
        if !out.status.success() {
            bail!("iam-tracker query ddl {flags:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        if flags.contains(&"--json") {
            glue_json.clone_from(&out.stdout);
        }
        outputs.push((path, out.stdout));
    }
    let glue: serde_json::Value = serde_json::from_slice(&glue_json).context("`query ddl --json` is not JSON")?;
    let block = template_block(&glue, &named_queries(&bin)?)?;
    let template = std::fs::read_to_string(root.join(TEMPLATE)).with_context(|| format!("cannot read {TEMPLATE}"))?;
    outputs.push((TEMPLATE, replace_block(&template, &block)?.into_bytes()));
    for (path, generated) in outputs {
        let file = root.join(path);
        let current = std::fs::read(&file).unwrap_or_default();
        if current == generated {
            continue;
        }
        if check {
            stale.push(path);
        } else {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(&file, &generated).with_context(|| format!("cannot write {}", file.display()))?;
            eprintln!("xtask: wrote {path}");
        }
    }
    if !stale.is_empty() {
        bail!(
            "{} out of date with host/src/export/schema.rs or host/src/analytics/queries.rs; run `cargo xtask ddl`",
            stale.join(", ")
        );
    }
    if check {
        eprintln!("xtask: Athena DDL files and the template's Glue table and named queries are current");
    }
    Ok(())
}

/// One pre-built query as a named query: its metadata and its Athena text with the window
/// relative to the day it runs and the off-hours hours taken from the template parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedQuery {
    pub name: String,
    pub title: String,
    pub description: String,
    pub days: u64,
    pub sql: String,
}

/// The day `query show` renders the queries for: the window (`--days 1`) then starts on
/// [`SENTINEL_SINCE`], which [`relative_sql`] finds and replaces.
const SENTINEL_AS_OF: &str = "2000-01-02";
const SENTINEL_SINCE: &str = "2000-01-01";
/// Off-hours rendered with these hours (start > end: the wrapping form).
const SENTINEL_OFF_HOURS: (&str, &str) = ("23", "6");

/// Every query of `iam-tracker query list`, rendered by `iam-tracker query show` for Athena.
fn named_queries(bin: &Path) -> Result<Vec<NamedQuery>> {
    let out = Command::new(bin).args(["query", "list", "--format", "json"]).output()?;
    if !out.status.success() {
        bail!("iam-tracker query list failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).context("query list is not JSON")?;
    let mut queries = Vec::new();
    for q in &list {
        let field = |k: &str| q[k].as_str().map(str::to_string).with_context(|| format!("query list: no `{k}`"));
        let name = field("name")?;
        let days = q["default_days"].as_u64().with_context(|| format!("{name}: no default_days"))?;
        let (start, end) = SENTINEL_OFF_HOURS;
        let out = Command::new(bin)
            .args(["query", "show", &name, "--engine", "athena", "--as-of", SENTINEL_AS_OF, "--days", "1"])
            .args(["--off-hours-start", start, "--off-hours-end", end])
            .output()?;
        if !out.status.success() {
            bail!("iam-tracker query show {name} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let shown = String::from_utf8(out.stdout).context("query show printed non-UTF-8")?;
        let off_hours = q["params"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p.as_str().is_some_and(|p| p.contains("--off-hours-start"))));
        let sql = relative_sql(&name, shown.trim_end(), days, off_hours)?;
        queries.push(NamedQuery { title: field("title")?, description: field("description")?, name, days, sql });
    }
    Ok(queries)
}

/// The window start `days` days before the day the query runs.
fn window_start(days: u64) -> String {
    format!("(current_date - INTERVAL '{days}' DAY)")
}

/// `sql` as rendered for [`SENTINEL_AS_OF`] with a one-day window, made to run on any day:
/// every window predicate (partition pruning on `year`/`month`/`day`, then `event_date`),
/// from `(year > 2000` to `DATE '2000-01-01'`, is replaced by the same predicate on
/// `current_date - INTERVAL 'days' DAY`; the wrapping off-hours predicate by one on the
/// template's `OffHoursStart`/`OffHoursEnd` (`${...}`, for `!Sub`) that also handles a window
/// within one day and an empty one, as `query run` does.
fn relative_sql(name: &str, sql: &str, days: u64, off_hours: bool) -> Result<String> {
    let s = window_start(days);
    let year = SENTINEL_SINCE.split('-').next().unwrap_or_default();
    let relative = format!(
        "(year > year({s}) OR (year = year({s}) AND month > month({s})) \
         OR (year = year({s}) AND month = month({s}) AND day >= day({s})))\n    AND event_date >= {s}"
    );
    let (first, last) = (format!("(year > {year} OR"), format!("DATE '{SENTINEL_SINCE}'"));
    let mut out = String::new();
    let mut rest = sql;
    while let Some(i) = rest.find(&first) {
        let Some(j) = rest[i..].find(&last) else {
            bail!("{name}: a window predicate starting `{first}` does not end with `{last}`; update xtask/src/analytics.rs");
        };
        out.push_str(&rest[..i]);
        out.push_str(&relative);
        rest = &rest[i + j + last.len()..];
    }
    out.push_str(rest);
    if out.contains(SENTINEL_SINCE) || out.contains(SENTINEL_AS_OF) {
        bail!("{name}: the window of the rendered query is not where expected; update xtask/src/analytics.rs");
    }
    let (start, end) = SENTINEL_OFF_HOURS;
    let wrapped = format!("hour(event_time) >= {start} OR hour(event_time) < {end}");
    if out.contains("${") {
        bail!("{name}: the query text contains `${{`, which `!Sub` would read as a reference");
    }
    if off_hours != out.contains(&wrapped) {
        bail!("{name}: the off-hours predicate `{wrapped}` is not where expected; update xtask/src/analytics.rs");
    }
    let h = "hour(event_time)";
    let template_hours = format!(
        "CASE WHEN ${{OffHoursStart}} > ${{OffHoursEnd}} THEN {h} >= ${{OffHoursStart}} OR {h} < ${{OffHoursEnd}} \
         ELSE {h} >= ${{OffHoursStart}} AND {h} < ${{OffHoursEnd}} END"
    );
    Ok(out.replace(&wrapped, &template_hours))
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A scalar for the template: `!Sub` when it names the analytics bucket (every other `${`
/// escaped as `${!`), else quoted.
fn cfn_string(s: &str) -> String {
    const BUCKET: &str = "${AnalyticsBucket}";
    if s.contains(BUCKET) {
        let escaped = s.replace("${", "${!").replace("${!AnalyticsBucket}", BUCKET);
        format!("!Sub {}", quoted(&escaped))
    } else {
        quoted(s)
    }
}

/// Whether `v` looks like an AWS region name (`us-east-1`), as opposed to the extra partition
/// values the exporter writes (`unknown`), which the projection must keep whatever the
/// `AthenaRegions` parameter says.
fn is_region(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// A CamelCase resource-name part from `snake_case`.
fn camel(name: &str) -> String {
    name.split(['_', '-'])
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The generated block of `template.yaml`, from the first marker line to the last.
pub fn template_block(glue: &serde_json::Value, queries: &[NamedQuery]) -> Result<String> {
    let text = |v: &serde_json::Value, what: &str| v.as_str().map(str::to_string).with_context(|| format!("no {what}"));
    let mut y = String::new();
    let mut line = |indent: usize, s: &str| {
        y.push_str(&" ".repeat(indent));
        y.push_str(s);
        y.push('\n');
    };
    line(2, "# GENERATED-GLUE-TABLE: generated by `cargo xtask ddl` from deploy/athena/iam_events.columns.json");
    line(2, "# (host/src/export/schema.rs) and the queries of host/src/analytics/queries.rs; do not edit");
    line(2, "# by hand (`cargo xtask ddl --check` fails when this block is stale).");
    line(2, "IamEventsTable:");
    line(4, "Type: AWS::Glue::Table");
    line(4, "Condition: AnalyticsEnabled");
    line(4, "Properties:");
    line(6, "CatalogId: !Ref AWS::AccountId");
    // The Ref is the dependency on the database; an explicit DependsOn as well is what
    // cfn-lint calls obsolete (W3005).
    line(6, "# Created after the database: this Ref is the dependency (no DependsOn needed).");
    line(6, "DatabaseName: !Ref GlueDatabase");
    line(6, "TableInput:");
    line(8, &format!("Name: {}", quoted(&text(&glue["name"], "table name")?)));
    line(8, "TableType: EXTERNAL_TABLE");
    line(8, "Parameters:");
    let params = glue["parameters"].as_object().context("no table parameters")?;
    for (k, v) in params {
        let v = text(v, k)?;
        let value = if k == "projection.region.values" {
            let all: Vec<&str> = v.split(',').collect();
            let extra: Vec<String> = all.iter().filter(|r| !is_region(r)).map(|r| quoted(r)).collect();
            format!(
                "!If [AthenaRegionsGiven, !Join [\",\", [!Join [\",\", !Ref AthenaRegions], {}]], {}]",
                extra.join(", "),
                quoted(&v)
            )
        } else {
            cfn_string(&v)
        };
        line(10, &format!("{}: {value}", quoted(k)));
    }
    let columns = |key: &str, indent: usize, y: &mut dyn FnMut(usize, &str)| -> Result<()> {
        for c in glue[key].as_array().with_context(|| format!("no {key}"))? {
            let (n, t, d) = (text(&c["name"], "name")?, text(&c["type"], "type")?, text(&c["comment"], "comment")?);
            y(indent, &format!("- {{ Name: {}, Type: {}, Comment: {} }}", quoted(&n), quoted(&t), quoted(&d)));
        }
        Ok(())
    };
    line(8, "PartitionKeys:");
    columns("partition_keys", 10, &mut line)?;
    line(8, "StorageDescriptor:");
    line(10, &format!("Location: {}", cfn_string(&text(&glue["location"], "location")?)));
    line(10, &format!("InputFormat: {}", quoted(&text(&glue["input_format"], "input_format")?)));
    line(10, &format!("OutputFormat: {}", quoted(&text(&glue["output_format"], "output_format")?)));
    line(10, "SerdeInfo:");
    line(12, &format!("SerializationLibrary: {}", quoted(&text(&glue["serde"], "serde")?)));
    line(12, "Parameters: { \"serialization.format\": \"1\" }");
    line(10, "Columns:");
    columns("columns", 12, &mut line)?;
    for q in queries {
        line(0, "");
        line(2, &format!("AthenaQuery{}:", camel(&q.name)));
        line(4, "Type: AWS::Athena::NamedQuery");
        line(4, "Condition: AnalyticsEnabled");
        line(4, "Properties:");
        line(6, &format!("Name: {}", quoted(&format!("iam-tracker {}", q.name))));
        let about = format!("{}: {} (last {} days)", q.title, q.description, q.days);
        line(6, &format!("Description: {}", quoted(&about.chars().take(1024).collect::<String>())));
        line(6, "Database: !Ref GlueDatabase");
        line(6, "WorkGroup: !Ref AthenaWorkGroup");
        let tag = if q.sql.contains("${") { "!Sub " } else { "" };
        if q.sql.starts_with(' ') || q.sql.contains('\t') {
            bail!("{}: the query text starts with a space or has tabs; it cannot be a YAML block as is", q.name);
        }
        line(6, &format!("QueryString: {tag}|-"));
        for l in q.sql.lines() {
            if l.is_empty() {
                line(0, "");
            } else {
                line(8, l.trim_end());
            }
        }
    }
    line(2, "# END-GENERATED-GLUE-TABLE");
    Ok(y)
}

/// `template` with the lines from `# GENERATED-GLUE-TABLE` to `# END-GENERATED-GLUE-TABLE`
/// (both included) replaced by `block`.
pub fn replace_block(template: &str, block: &str) -> Result<String> {
    let lines: Vec<&str> = template.split_inclusive('\n').collect();
    let find = |marker: &str| lines.iter().position(|l| l.trim_start().starts_with(marker));
    let (Some(begin), Some(end)) = (find("# GENERATED-GLUE-TABLE"), find("# END-GENERATED-GLUE-TABLE")) else {
        bail!("{TEMPLATE} has no `# GENERATED-GLUE-TABLE` ... `# END-GENERATED-GLUE-TABLE` block");
    };
    if end < begin {
        bail!("{TEMPLATE}: `# END-GENERATED-GLUE-TABLE` comes before `# GENERATED-GLUE-TABLE`");
    }
    Ok(lines[..begin].concat() + block + &lines[end + 1..].concat())
}

/// The 15 query names, from `iam-tracker query list --format json`.
fn query_names(bin: &Path) -> Result<Vec<String>> {
    let out = Command::new(bin).args(["query", "list", "--format", "json"]).output()?;
    if !out.status.success() {
        bail!("iam-tracker query list failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).context("query list is not JSON")?;
    Ok(list.iter().filter_map(|q| q["name"].as_str().map(str::to_string)).collect())
}

/// Seconds from the `time N.NNs` of `query run`'s stderr summary.
fn reported_seconds(stderr: &str) -> Option<f64> {
    let rest = &stderr[stderr.rfind(": ")?..];
    let t = rest.split("time ").nth(1)?;
    t.split('s').next()?.trim().parse().ok()
}

/// Run every query on the local engine `runs` times; print the median per query.
pub fn bench_queries(root: &Path, args: &[String]) -> Result<()> {
    let data =
        crate::flag(args, "--data").map(PathBuf::from).unwrap_or_else(|| root.join("target/bench-export/parquet"));
    let runs: usize = crate::flag(args, "--runs").map(str::parse).transpose()?.unwrap_or(5).max(1);
    // Every query over all the data by default (its own window would miss generated dates).
    let days = crate::flag(args, "--days").unwrap_or("3650");
    let as_of = crate::flag(args, "--as-of");
    eprintln!("xtask: building iam-tracker (release, local-sql only, no AWS SDK)");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["build", "--release", "-p", "iam-tracker", "--no-default-features", "--features", "local-sql"])
        .status()?;
    if !status.success() {
        bail!("release build failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let bin = target.join("release/iam-tracker");
    println!("| query | rows | median (s) | min (s) | max (s) |\n|---|---:|---:|---:|---:|");
    for name in query_names(&bin)? {
        let mut times = Vec::with_capacity(runs);
        let mut rows = 0;
        for _ in 0..runs {
            let mut c = Command::new(&bin);
            c.args(["query", "run", &name, "--engine", "local", "--format", "csv", "--days", days])
                .arg("--data")
                .arg(&data);
            if let Some(d) = as_of {
                c.args(["--as-of", d]);
            }
            let out = c.output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                bail!("{name}: {stderr}");
            }
            rows = out.stdout.iter().filter(|b| **b == b'\n').count().saturating_sub(1);
            times.push(reported_seconds(&stderr).with_context(|| format!("{name}: no time in {stderr:?}"))?);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| {name} | {rows} | {:.3} | {:.3} | {:.3} |",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOWN: &str = "SELECT x\nFROM iam_events\nWHERE (year > 2000 OR (year = 2000 AND month > 1) OR (year = 2000 AND \
                         month = 1 AND day >= 1))\n    AND event_date >= DATE '2000-01-01'\n    AND (hour(event_time) >= 23 \
                         OR hour(event_time) < 6)\nLIMIT 100";

    #[test]
    fn the_window_becomes_relative_and_the_hours_come_from_the_parameters() {
        let sql = relative_sql("off_hours", SHOWN, 90, true).expect("rendered");
        assert!(!sql.contains("2000"), "{sql}");
        assert!(sql.contains("AND event_date >= (current_date - INTERVAL '90' DAY)\n"), "{sql}");
        assert!(sql.contains("(year > year((current_date - INTERVAL '90' DAY)) OR"), "{sql}");
        assert!(
            sql.contains("AND (CASE WHEN ${OffHoursStart} > ${OffHoursEnd} THEN hour(event_time) >= ${OffHoursStart}")
        );
        assert!(sql.starts_with("SELECT x\nFROM iam_events\nWHERE (year > year(") && sql.ends_with(" END)\nLIMIT 100"));
        let broken = SHOWN.replace("DATE '2000-01-01'", "DATE '2000-01-02'");
        assert!(relative_sql("q", &broken, 7, true).is_err(), "a window that is not where expected is an error");
        assert!(relative_sql("q", SHOWN, 7, false).is_err(), "off-hours where none was expected");
    }

    #[test]
    fn the_block_replaces_exactly_the_marked_lines() {
        let t = "a:\n  # GENERATED-GLUE-TABLE: old\n  # more\n  Old: 1\n  # END-GENERATED-GLUE-TABLE\nb: 2\n";
        let out = replace_block(t, "  # GENERATED-GLUE-TABLE\n  New: 2\n  # END-GENERATED-GLUE-TABLE\n").expect("ok");
        assert_eq!(out, "a:\n  # GENERATED-GLUE-TABLE\n  New: 2\n  # END-GENERATED-GLUE-TABLE\nb: 2\n");
        assert!(replace_block("a: 1\n", "x").is_err());
    }

    #[test]
    fn values_naming_the_bucket_are_substituted_and_regions_recognised() {
        assert_eq!(
            cfn_string("s3://${AnalyticsBucket}/iam-events/year=${year}/"),
            r#"!Sub "s3://${AnalyticsBucket}/iam-events/year=${!year}/""#
        );
        assert_eq!(cfn_string("1,12"), r#""1,12""#);
        assert!(is_region("us-east-1") && is_region("us-gov-west-1") && !is_region("unknown"));
        assert_eq!(camel("off_hours"), "OffHours");
    }

    #[test]
    fn reads_the_time_of_the_summary_line() {
        assert_eq!(reported_seconds("active_users: 30 rows, time 0.42s\n"), Some(0.42));
        assert_eq!(reported_seconds("nothing"), None);
    }
}
