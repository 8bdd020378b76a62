//! How a query result prints: an aligned table (comfy-table), a JSON array of objects, or CSV
//! with a header row (the `csv` crate's quoting). Nulls print as empty cells in the table and
//! CSV, and as `null` in JSON.

use std::io::Write;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use crate::analytics::QueryResult;

/// The output formats of `query run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned table with a header.
    Table,
    /// A JSON array of objects (column name to text or null).
    Json,
    /// CSV with a header row.
    Csv,
}

fn is_numeric(v: &str) -> bool {
    !v.is_empty() && v.parse::<f64>().is_ok()
}

/// The result as an aligned table (numbers right-aligned).
pub fn table(r: &QueryResult) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(&r.columns);
    for row in &r.rows {
        t.add_row(row.iter().map(|v| v.as_deref().unwrap_or("")));
    }
    for (i, _) in r.columns.iter().enumerate() {
        let numeric =
            !r.rows.is_empty() && r.rows.iter().all(|row| row.get(i).and_then(|v| v.as_deref()).is_none_or(is_numeric));
        if numeric {
            if let Some(c) = t.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    t.to_string()
}

/// The result as a JSON array of objects, keys in column order (written by hand so the order
/// does not depend on serde_json's map features), one object per line.
pub fn json(r: &QueryResult) -> String {
    let quote = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let mut out = String::from("[");
    for (i, row) in r.rows.iter().enumerate() {
        out.push_str(if i == 0 { "\n  {" } else { ",\n  {" });
        for (j, (c, v)) in r.columns.iter().zip(row).enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            out.push_str(&quote(c));
            out.push_str(": ");
            out.push_str(&v.as_deref().map_or_else(|| "null".to_string(), quote));
        }
        out.push('}');
    }
    out.push_str(if r.rows.is_empty() { "]" } else { "\n]" });
    out
}

/// Write `r` in `format` to `out`.
pub fn write(out: &mut dyn Write, r: &QueryResult, format: OutputFormat) -> std::io::Result<()> {
    match format {
        OutputFormat::Table => writeln!(out, "{}", table(r)),
        OutputFormat::Json => writeln!(out, "{}", json(r)),
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(&r.columns)?;
            for row in &r.rows {
                w.write_record(row.iter().map(|v| v.as_deref().unwrap_or("")))?;
            }
            w.flush()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> QueryResult {
        QueryResult {
            columns: vec!["user".into(), "count".into()],
            rows: vec![vec![Some("alice, \"a\"".into()), Some("12".into())], vec![None, Some("3".into())]],
        }
    }

    #[test]
    fn csv_quotes_and_leaves_nulls_empty() {
        let mut out = Vec::new();
        write(&mut out, &sample(), OutputFormat::Csv).expect("write");
        assert_eq!(String::from_utf8(out).expect("utf8"), "user,count\n\"alice, \"\"a\"\"\",12\n,3\n");
    }

    #[test]
    fn json_keeps_nulls_and_column_order() {
        let j = json(&sample());
        assert_eq!(
            j,
            "[\n  {\"user\": \"alice, \\\"a\\\"\", \"count\": \"12\"},\n  {\"user\": null, \"count\": \"3\"}\n]"
        );
        let parsed: serde_json::Value = serde_json::from_str(&j).expect("valid JSON");
        assert_eq!(parsed[1]["user"], serde_json::Value::Null);
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&sample());
        let lines: Vec<&str> = t.lines().collect();
        let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{t}");
        // Numbers right-aligned under the header.
        assert!(t.contains("     3 │") && t.contains("    12 │"), "{t}");
    }
}
