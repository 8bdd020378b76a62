//! Reading seed records: CloudTrail trail files (`{"Records": [...]}`, optionally gzipped, as
//! delivered to S3), JSON arrays of records, or JSON Lines (one record per line). Each record's
//! region is its `awsRegion` (us-east-1 when absent).

use std::io::Read as _;
use std::path::Path;

use serde_json::value::RawValue;
use serde_json::Value;

/// Why a seed file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SeedFileError {
    /// The file could not be read or un-gzipped.
    #[error("reading seed data: {0}")]
    Io(#[from] std::io::Error),
    /// A line or document is not JSON.
    #[error("seed data line {line}: {source}")]
    Json {
        /// 1-based line number (1 for a whole-document error).
        line: usize,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A record is not a JSON object.
    #[error("seed data line {0}: a record must be a JSON object")]
    NotAnObject(usize),
}

/// The region a record belongs to: its `awsRegion`, or us-east-1.
pub fn region_of_record(record: &Value) -> String {
    record.get("awsRegion").and_then(Value::as_str).filter(|r| !r.is_empty()).unwrap_or("us-east-1").to_owned()
}

/// One record read from seed data.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedRecord {
    /// Its `awsRegion`, or us-east-1.
    pub region: String,
    /// The parsed record.
    pub record: Value,
    /// The record's JSON text as it appeared in the input (served as `CloudTrailEvent`).
    pub raw: String,
}

#[derive(serde::Deserialize)]
struct MaybeTrail<'a> {
    #[serde(rename = "Records", borrow)]
    records: Option<Vec<&'a RawValue>>,
}

fn push_raw(out: &mut Vec<SeedRecord>, raw: &RawValue, line: usize) -> Result<(), SeedFileError> {
    let text = raw.get();
    let json_err = |source| SeedFileError::Json { line, source };
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            for item in serde_json::from_str::<Vec<&RawValue>>(text).map_err(json_err)? {
                push_raw(out, item, line)?;
            }
        }
        Some(b'{') => match serde_json::from_str::<MaybeTrail<'_>>(text).map_err(json_err)?.records {
            Some(records) => {
                for r in records {
                    push_raw(out, r, line)?;
                }
            }
            None => {
                let record: Value = serde_json::from_str(text).map_err(json_err)?;
                out.push(SeedRecord { region: region_of_record(&record), record, raw: text.to_owned() });
            }
        },
        _ => return Err(SeedFileError::NotAnObject(line)),
    }
    Ok(())
}

/// Parses seed data (gzip is detected by its magic bytes) into records with their regions.
pub fn parse_records(data: &[u8]) -> Result<Vec<SeedRecord>, SeedFileError> {
    let mut unzipped = Vec::new();
    let data = if data.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(data).read_to_end(&mut unzipped)?;
        unzipped.as_slice()
    } else {
        data
    };
    let text = std::str::from_utf8(data).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let mut out = Vec::new();
    // A whole JSON document first (trail file, array, one record), else JSON Lines.
    if let Ok(doc) = serde_json::from_str::<&RawValue>(text) {
        push_raw(&mut out, doc, 1)?;
        return Ok(out);
    }
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let doc =
            serde_json::from_str::<&RawValue>(line).map_err(|source| SeedFileError::Json { line: i + 1, source })?;
        push_raw(&mut out, doc, i + 1)?;
    }
    Ok(out)
}

/// Reads and parses a seed file.
pub fn load_file(path: &Path) -> Result<Vec<SeedRecord>, SeedFileError> {
    parse_records(&std::fs::read(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn formats() {
        let trail = br#"{"Records":[{"eventID": "a","awsRegion":"eu-west-1"}, {"eventID":"b"}]}"#;
        let got = parse_records(trail).expect("trail");
        assert_eq!(got.iter().map(|r| r.region.as_str()).collect::<Vec<_>>(), ["eu-west-1", "us-east-1"]);
        assert_eq!(got[0].raw, r#"{"eventID": "a","awsRegion":"eu-west-1"}"#);
        assert_eq!(got[1].record["eventID"], "b");
        let lines = b"{\"eventID\":\"a\"}\n\n{\"eventID\":\"b\",\"awsRegion\":\"us-west-2\"}\n";
        assert_eq!(parse_records(lines).expect("jsonl").len(), 2);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(trail).expect("gzip");
        assert_eq!(parse_records(&gz.finish().expect("gzip")).expect("gz").len(), 2);
        assert!(matches!(parse_records(b"{\"a\":1}\nnot json"), Err(SeedFileError::Json { line: 2, .. })));
        assert!(matches!(parse_records(b"[1]"), Err(SeedFileError::NotAnObject(1))));
        assert_eq!(parse_records(b"[[{\"eventID\":\"a\"}], {\"Records\": []}]").expect("nested").len(), 1);
    }
}
