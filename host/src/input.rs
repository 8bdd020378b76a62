//! Reading CloudTrail records from files, folders, gzip and stdin.
//!
//! Accepted shapes, per file (gzip or not): a single record, a JSON array of records, a
//! trail log file (`{"Records": [...]}`) and JSON Lines. Folders are walked recursively in
//! name order. A bad record is rejected alone, named by file and record index; a file that
//! cannot be read or parsed at all is one rejection naming the file.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// File path, or `-` for stdin.
    pub file: String,
    /// Position: element index for arrays and trail files, line number for JSON Lines.
    pub position: Position,
}

/// A record's position within its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Element index (0-based) in `Records` or an array; 0 for a single-record file.
    Record(usize),
    /// Line number (1-based) in a JSON Lines file.
    Line(usize),
    /// The file as a whole (it could not be read or split into records).
    File,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Position::Record(i) => write!(f, "{} record {i}", self.file),
            Position::Line(n) => write!(f, "{} line {n}", self.file),
            Position::File => write!(f, "{}", self.file),
        }
    }
}

/// Something the reader hands to its consumer.
pub enum Item<'a> {
    /// The text of one record (not yet validated as a CloudTrail record).
    Record(&'a str),
    /// A problem that rejects this record or file.
    Rejected(String),
}

#[derive(Deserialize)]
struct TrailFile<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// File names a folder walk picks up; other files in folders (and `*.expected.json`
/// test expectations) are listed as skipped.
pub const RECORD_FILE_SUFFIXES: &[&str] = &[".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz"];

/// Paths expanded into files.
#[derive(Debug, Default)]
pub struct Expanded {
    pub files: Vec<PathBuf>,
    /// Paths that could not be read: (path, reason).
    pub errors: Vec<(String, String)>,
    /// Files inside folders that are not record files (by name).
    pub skipped: Vec<PathBuf>,
}

/// Expand paths into files: folders recursively (sorted, record files only), `-` as stdin.
/// Paths named explicitly are always read.
pub fn expand_paths(paths: &[PathBuf]) -> Expanded {
    let mut out = Expanded::default();
    for p in paths {
        walk(p, true, &mut out);
    }
    out
}

/// A record file by name; plugin test expectations (`*.expected.json`) are not records.
fn is_record_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    RECORD_FILE_SUFFIXES.iter().any(|s| name.ends_with(s)) && !name.ends_with(".expected.json")
}

fn walk(p: &Path, explicit: bool, out: &mut Expanded) {
    if p.as_os_str() == "-" {
        out.files.push(p.to_path_buf());
        return;
    }
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => match std::fs::read_dir(p) {
            Ok(entries) => {
                let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                children.sort();
                for c in children {
                    let hidden = c.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
                    if !hidden {
                        walk(&c, false, out);
                    }
                }
            }
            Err(e) => out.errors.push((p.display().to_string(), format!("cannot read folder: {e}"))),
        },
        Ok(_) if explicit || is_record_file(p) => out.files.push(p.to_path_buf()),
        Ok(_) => out.skipped.push(p.to_path_buf()),
        Err(e) => out.errors.push((p.display().to_string(), format!("cannot read: {e}"))),
    }
}

/// Read a file (or stdin for `-`), gunzipping when it starts with the gzip magic.
pub fn read_text(path: &Path) -> Result<String, String> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes).map_err(|e| format!("cannot read stdin: {e}"))?;
    } else {
        bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    }
    decode(bytes)
}

/// Gunzip if needed, then check UTF-8.
pub fn decode(bytes: Vec<u8>) -> Result<String, String> {
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("corrupt gzip data: {e}"))?;
        out
    } else {
        bytes
    };
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))
}

/// Split one file's text into records, calling `f` for each record or rejection.
/// Returns how many records (good or bad) were found.
pub fn split_records(text: &str, mut f: impl FnMut(Position, Item<'_>)) -> usize {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return 0;
    }
    if let Some(n) = split_well_formed(trimmed, &mut f) {
        return n;
    }
    split_general(text, trimmed, &mut f)
}

/// Every shape, and the rejections: `trimmed` is `text` without BOM and outer whitespace.
fn split_general(text: &str, trimmed: &str, mut f: impl FnMut(Position, Item<'_>)) -> usize {
    match serde_json::from_str::<&RawValue>(trimmed) {
        Ok(whole) => {
            let body = whole.get();
            if body.starts_with('[') {
                match serde_json::from_str::<Vec<&RawValue>>(body) {
                    Ok(items) => emit_all(&items, &mut f),
                    Err(e) => {
                        f(Position::File, Item::Rejected(format!("not a JSON array of records: {e}")));
                        1
                    }
                }
            } else if body.starts_with('{') && has_records_key(body) {
                match serde_json::from_str::<TrailFile>(body) {
                    Ok(t) => emit_all(&t.records, &mut f),
                    Err(e) => {
                        f(Position::File, Item::Rejected(format!("`Records` is not a list of records: {e}")));
                        1
                    }
                }
            } else {
                f(Position::Record(0), Item::Record(body));
                1
            }
        }
        Err(whole_err) => {
            // Not one JSON value: JSON Lines if the first line stands on its own.
            let first = trimmed.lines().next().unwrap_or_default();
            if serde_json::from_str::<&RawValue>(first.trim()).is_err() {
                f(Position::File, Item::Rejected(format!("not valid JSON: {whole_err}")));
                return 1;
            }
            let mut n = 0;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                n += 1;
                match serde_json::from_str::<&RawValue>(line) {
                    Ok(v) => f(Position::Line(i + 1), Item::Record(v.get())),
                    Err(e) => f(Position::Line(i + 1), Item::Rejected(format!("not valid JSON: {e}"))),
                }
            }
            n
        }
    }
}

/// The common case in one pass: a well-formed trail file, array or single record.
///
/// `None` (nothing emitted) for anything else, including every malformed file: the general
/// path in [`split_records`] then handles it and words the rejection. When this returns
/// `Some`, the general path would have emitted exactly the same records, in three passes
/// over the text instead of one (whole value, `Records` probe, `Records` list).
fn split_well_formed(trimmed: &str, f: &mut impl FnMut(Position, Item<'_>)) -> Option<usize> {
    #[derive(Deserialize)]
    struct MaybeTrail<'a> {
        #[serde(rename = "Records", default, borrow)]
        records: Option<Vec<&'a RawValue>>,
    }
    match trimmed.as_bytes().first() {
        Some(b'{') => match serde_json::from_str::<MaybeTrail>(trimmed).ok()?.records {
            Some(records) => Some(emit_all(&records, f)),
            // No `Records` (or `null`): the object is a single record.
            None => {
                f(Position::Record(0), Item::Record(trimmed));
                Some(1)
            }
        },
        Some(b'[') => {
            let items = serde_json::from_str::<Vec<&RawValue>>(trimmed).ok()?;
            Some(emit_all(&items, f))
        }
        _ => None,
    }
}

fn emit_all(items: &[&RawValue], f: &mut impl FnMut(Position, Item<'_>)) -> usize {
    for (i, r) in items.iter().enumerate() {
        f(Position::Record(i), Item::Record(r.get()));
    }
    items.len()
}

fn has_records_key(object: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "Records", default)]
        records: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_str::<Probe>(object).ok().and_then(|p| p.records).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str) -> Vec<(Position, Result<String, String>)> {
        let mut out = Vec::new();
        split_records(text, |p, item| {
            out.push((
                p,
                match item {
                    Item::Record(r) => Ok(r.to_string()),
                    Item::Rejected(e) => Err(e),
                },
            ))
        });
        out
    }

    #[test]
    fn one_pass_path_agrees_with_the_general_path() {
        let general = |text: &str| {
            let mut out = Vec::new();
            let trimmed = text.trim_start_matches('\u{feff}').trim();
            let n = split_general(text, trimmed, |p, item| {
                out.push((
                    p,
                    match item {
                        Item::Record(r) => Ok(r.to_string()),
                        Item::Rejected(e) => Err(e),
                    },
                ))
            });
            (n, out)
        };
        let samples = [
            r#"{"Records":[{"a":1},{"b":[2,{"c":null}]}]}"#,
            "\u{feff} {\"Records\" : [ {\"a\":1} , {\"b\":2} ] }\n",
            r#"{"x":1,"Records":[],"y":{"Records":5}}"#,
            r#"{"Records":null}"#,
            r#"{"Records":5}"#,
            r#"{"Records":[1,2}"#,
            r#"{"Records":[{}],"Records":[{}]}"#,
            r#"{"eventSource":"s","eventName":"n","requestParameters":{"Records":[1]}}"#,
            r#"{"eventSource":"s","R\u0065cords":[{"a":1}]}"#,
            r#"{"k\ud800":1}"#,
            r#"{"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
            r#"{"n":1e400,"Records":[{"a":"\ud800"}]}"#,
            "{\"a\":1}\n{\"b\":2}\n",
            "{\"a\":1} {\"b\":2}",
            r#"[{"a":1},{"b":2}]"#,
            r#"[]"#,
            r#"[{"a":1},"#,
            r#"["x",1,null]"#,
            "[1]\n[2]\n",
            r#""just a string""#,
            "42",
            "{bad",
        ];
        let deep = format!(r#"{{"Records":[{{"a":{}{}}}]}}"#, "[".repeat(300), "]".repeat(300));
        for text in samples.into_iter().chain([deep.as_str()]) {
            let mut fast = Vec::new();
            let n = split_records(text, |p, item| {
                fast.push((
                    p,
                    match item {
                        Item::Record(r) => Ok(r.to_string()),
                        Item::Rejected(e) => Err(e),
                    },
                ))
            });
            assert_eq!((n, fast), general(text), "{text}");
        }
    }

    #[test]
    fn all_shapes() {
        assert_eq!(collect(r#"{"eventSource":"a"}"#).len(), 1);
        assert_eq!(collect(r#"[{"a":1},{"b":2}]"#).len(), 2);
        let trail = collect(r#"{"Records":[{"a":1},{"b":2},{"c":3}]}"#);
        assert_eq!(trail.len(), 3);
        assert_eq!(trail[2].0, Position::Record(2));
        let lines = collect("{\"a\":1}\n\n{\"b\":2}\n{bad\n");
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].0, Position::Line(3));
        assert!(matches!(&lines[2], (Position::Line(4), Err(e)) if e.contains("not valid JSON")));
        assert!(collect("   ").is_empty());
        let broken = collect("{\n  \"Records\": [\n {\"a\": }\n]}");
        assert!(matches!(&broken[..], [(Position::File, Err(e))] if e.contains("line 3")), "{broken:?}");
    }

    #[test]
    fn gzip_round_trip_and_corruption() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"{\"Records\":[]}").expect("write");
        let gz = enc.finish().expect("finish");
        assert_eq!(decode(gz.clone()).as_deref(), Ok("{\"Records\":[]}"));
        let mut bad = gz;
        bad.truncate(12);
        assert!(decode(bad).is_err_and(|e| e.contains("corrupt gzip")));
    }
}
