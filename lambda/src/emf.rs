//! CloudWatch Embedded Metric Format: one JSON log line per run that CloudWatch Logs turns
//! into metrics (namespace [`NAMESPACE`], dimension `FunctionName`), so partial failures,
//! which do not fail the invocation, can still be alarmed on (the SAM template's
//! `*-task-failures` and `*-problems` alarms).
//!
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::{json, Map, Value};

/// The metric namespace the template's alarms watch.
pub const NAMESPACE: &str = "IamTracker";

/// One EMF document for `function` at `timestamp_ms` with count metrics `metrics`.
pub fn line(function: &str, timestamp_ms: i64, metrics: &[(&str, u64)]) -> String {
    let defs: Vec<Value> = metrics.iter().map(|(name, _)| json!({ "Name": name, "Unit": "Count" })).collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName"]],
                "Metrics": defs,
            }],
        }),
    );
    doc.insert("FunctionName".into(), Value::String(function.to_string()));
    for (name, value) in metrics {
        doc.insert((*name).to_string(), json!(value));
    }
    Value::Object(doc).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_and_carries_every_metric() {
        let l = line("stack-tracker", 1_700_000_000_000, &[("TasksFailed", 2), ("Problems", 5)]);
        let v: Value = serde_json::from_str(&l).expect("json");
        assert_eq!(v["FunctionName"], "stack-tracker");
        assert_eq!(v["TasksFailed"], 2);
        assert_eq!(v["Problems"], 5);
        let m = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(m["Namespace"], NAMESPACE);
        assert_eq!(m["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(
            m["Metrics"],
            json!([{"Name": "TasksFailed", "Unit": "Count"}, {"Name": "Problems", "Unit": "Count"}])
        );
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert!(!l.contains('\n'), "one log line");
    }
}
