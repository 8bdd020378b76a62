//! Project checks on `template.yaml` that cfn-lint cannot make: the environment each function
//! gets is exactly what the code reads, IAM is least privilege (real actions, no wildcards,
//! scoped resources except where AWS allows no scoping, no duplicates), every alarm notifies
//! someone, and every bucket is private, encrypted and TLS-only.

use std::collections::BTreeSet;

use iam_tracker_lambda::config::{EXPORTER_VARS, TRACKER_VARS};
use serde_norway::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("read template.yaml");
    serde_norway::from_str(&text).expect("template.yaml is YAML")
}

/// The value under a tag (`!Ref X` → `X`), or the value itself.
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

fn tag_name(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) => Some(t.tag.to_string()),
        _ => None,
    }
}

fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| untag(v).get(k).unwrap_or_else(|| panic!("no `{k}` in {path:?}")))
}

fn resources(t: &Value) -> Vec<(String, &Value)> {
    get(t, &["Resources"])
        .as_mapping()
        .expect("Resources is a map")
        .iter()
        .map(|(k, v)| (k.as_str().expect("resource name").to_string(), v))
        .collect()
}

fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(String, &'a Value)> {
    resources(t).into_iter().filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty)).collect()
}

fn env_keys(v: &Value) -> BTreeSet<String> {
    v.get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .map(|m| m.keys().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn each_function_gets_exactly_the_variables_its_code_reads() {
    let t = template();
    let global = env_keys(get(&t, &["Globals", "Function"]));
    for (name, vars) in [("TrackerFunction", TRACKER_VARS), ("ExporterFunction", EXPORTER_VARS)] {
        let mut set: BTreeSet<String> = env_keys(get(&t, &["Resources", name, "Properties"]));
        set.extend(global.iter().cloned());
        let read: BTreeSet<String> = vars.iter().map(|s| s.to_string()).collect();
        let unset: Vec<_> = read.difference(&set).collect();
        let unread: Vec<_> = set.difference(&read).collect();
        assert!(unset.is_empty(), "{name}: the code reads {unset:?} but the template does not set them");
        assert!(unread.is_empty(), "{name}: the template sets {unread:?} but the code never reads them");
    }
}

/// Actions that exist and that the functions may need. Anything else (a typo, a made-up
/// action such as the original's `s3:HeadBucket`) fails the check.
const KNOWN_ACTIONS: &[&str] = &[
    "cloudtrail:LookupEvents",
    "ec2:DescribeRegions",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "sns:Publish",
    "kms:GenerateDataKey*",
    "kms:Decrypt",
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListBucket",
];

/// The only actions AWS does not let us scope to a resource.
const UNSCOPABLE: &[&str] = &["cloudtrail:LookupEvents", "ec2:DescribeRegions"];

/// Every statement of a function's `Policies`, through `!If [cond, doc, NoValue]`.
fn statements(policies: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for p in policies.as_sequence().expect("Policies is a list") {
        let docs: Vec<&Value> = match (tag_name(p).as_deref(), untag(p)) {
            (Some("!If"), Value::Sequence(s)) => s.iter().skip(1).collect(),
            (_, v) => vec![v],
        };
        for d in docs {
            if let Some(st) = d.get("Statement").and_then(Value::as_sequence) {
                out.extend(st.iter().cloned());
            }
        }
    }
    out
}

fn strings(v: &Value) -> Vec<String> {
    match untag(v) {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(s) => s.iter().map(|x| serde_norway::to_string(x).expect("yaml").trim().to_string()).collect(),
        other => vec![serde_norway::to_string(other).expect("yaml").trim().to_string()],
    }
}

#[test]
fn iam_is_least_privilege() {
    let t = template();
    for (name, f) in of_type(&t, "AWS::Serverless::Function") {
        let sts = statements(get(f, &["Properties", "Policies"]));
        assert!(!sts.is_empty(), "{name}: no statements");
        let mut seen = BTreeSet::new();
        for st in &sts {
            let sid = st.get("Sid").and_then(Value::as_str).unwrap_or("?");
            assert_eq!(st.get("Effect").and_then(Value::as_str), Some("Allow"), "{name}/{sid}");
            let actions = strings(st.get("Action").expect("Action"));
            let resources = strings(st.get("Resource").expect("Resource"));
            for a in &actions {
                assert!(KNOWN_ACTIONS.contains(&a.as_str()), "{name}/{sid}: `{a}` is not a known action");
                assert!(!a.ends_with(":*") && a != "*", "{name}/{sid}: wildcard action `{a}`");
                for r in &resources {
                    assert!(seen.insert((a.clone(), r.clone())), "{name}/{sid}: `{a}` on {r} granted twice");
                }
            }
            if resources.iter().any(|r| r == "*") {
                let extra: Vec<_> = actions.iter().filter(|a| !UNSCOPABLE.contains(&a.as_str())).collect();
                assert!(extra.is_empty(), "{name}/{sid}: {extra:?} on `*`; only {UNSCOPABLE:?} may be unscoped");
            }
        }
    }
}

#[test]
fn every_alarm_notifies_the_alerts_topic() {
    let t = template();
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 6, "errors, duration and partial-failure alarms for both functions");
    for (name, a) in alarms {
        let actions = serde_norway::to_string(get(a, &["Properties", "AlarmActions"])).expect("yaml");
        assert!(actions.contains("SecurityAlertsTopic"), "{name}: AlarmActions {actions}");
        let stat = get(a, &["Properties", "Statistic"]).as_str().expect("statistic");
        if get(a, &["Properties", "MetricName"]).as_str() == Some("Duration") {
            assert_eq!(stat, "Maximum", "{name}: a duration alarm on the average hides the slow runs");
        }
    }
}

#[test]
fn buckets_are_private_encrypted_and_tls_only() {
    let t = template();
    let policies = of_type(&t, "AWS::S3::BucketPolicy");
    for (name, b) in of_type(&t, "AWS::S3::Bucket") {
        let pab = get(b, &["Properties", "PublicAccessBlockConfiguration"]);
        for k in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
            assert_eq!(pab.get(k).and_then(Value::as_bool), Some(true), "{name}: {k}");
        }
        get(b, &["Properties", "BucketEncryption", "ServerSideEncryptionConfiguration"]);
        let tls = policies.iter().any(|(_, p)| {
            let text = serde_norway::to_string(p).expect("yaml");
            text.contains(&format!("Bucket: !Ref {name}")) || text.contains(&format!("Ref {name}"))
        });
        assert!(tls, "{name}: no bucket policy");
        let policy = policies
            .iter()
            .map(|(_, p)| serde_norway::to_string(p).expect("yaml"))
            .find(|p| p.contains(&name))
            .expect("policy text");
        assert!(policy.contains("aws:SecureTransport") && policy.contains("Deny"), "{name}: not TLS-only");
    }
}

/// `(action, resource)` pairs of a function's statements, resources as YAML text.
fn grants(t: &Value, function: &str) -> Vec<(String, String)> {
    let sts = statements(get(t, &["Resources", function, "Properties", "Policies"]));
    let mut out = Vec::new();
    for st in &sts {
        for a in strings(st.get("Action").expect("Action")) {
            for r in strings(st.get("Resource").expect("Resource")) {
                out.push((a.clone(), r));
            }
        }
    }
    out
}

#[test]
fn the_exporter_reads_only_the_events_table_and_writes_only_the_analytics_bucket() {
    let t = template();
    let grants = grants(&t, "ExporterFunction");
    for (a, r) in &grants {
        match a.split(':').next() {
            Some("s3") => assert!(r.contains("AnalyticsBucket"), "`{a}` on {r}: not the analytics bucket"),
            Some("dynamodb") => {
                assert_eq!(a, "dynamodb:Query", "the exporter only reads, by date partition");
                assert!(r.contains("EventsTable"), "`{a}` on {r}: not the events table or its indexes");
            }
            _ => panic!("the exporter needs no `{a}` (on {r})"),
        }
    }
    let has = |action: &str, on: &str| grants.iter().any(|(a, r)| a == action && r.contains(on));
    for action in ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"] {
        assert!(has(action, "${AnalyticsBucket.Arn}/iam-events/*"), "{action} on the export objects: {grants:?}");
    }
    assert!(has("s3:ListBucket", "AnalyticsBucket.Arn"), "{grants:?}");
    assert!(has("dynamodb:Query", "EventsTable.Arn"), "{grants:?}");
}

/// The generated `deploy/athena/iam_events.columns.json`.
fn glue_json() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/athena/iam_events.columns.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read columns.json")).expect("columns.json is JSON")
}

/// `[(Name, Type, Comment)]` of a Glue column list in the template.
fn glue_columns(v: &Value) -> Vec<(String, String, String)> {
    let field = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or_else(|| panic!("no {k}")).to_string();
    v.as_sequence()
        .expect("a column list")
        .iter()
        .map(|c| (field(c, "Name"), field(c, "Type"), field(c, "Comment")))
        .collect()
}

fn json_columns(v: &serde_json::Value) -> Vec<(String, String, String)> {
    let field = |c: &serde_json::Value, k: &str| c[k].as_str().unwrap_or_else(|| panic!("no {k}")).to_string();
    v.as_array().expect("array").iter().map(|c| (field(c, "name"), field(c, "type"), field(c, "comment"))).collect()
}

#[test]
fn the_glue_table_is_the_generated_ddl_with_partition_projection() {
    let t = template();
    let json = glue_json();
    let tables = of_type(&t, "AWS::Glue::Table");
    assert_eq!(tables.len(), 1, "one Glue table");
    let (name, table) = &tables[0];
    assert_eq!(table.get("Condition").and_then(Value::as_str), Some("AnalyticsEnabled"), "{name}");
    // The Ref orders the table after the database (cfn-lint calls a DependsOn as well obsolete).
    let db = get(table, &["Properties", "DatabaseName"]);
    assert_eq!((tag_name(db).as_deref(), untag(db).as_str()), (Some("!Ref"), Some("GlueDatabase")), "{name}");
    let input = get(table, &["Properties", "TableInput"]);
    assert_eq!(get(input, &["Name"]).as_str(), json["name"].as_str());
    assert_eq!(get(input, &["TableType"]).as_str(), Some("EXTERNAL_TABLE"));
    let sd = get(input, &["StorageDescriptor"]);
    assert_eq!(glue_columns(get(sd, &["Columns"])), json_columns(&json["columns"]), "columns = columns.json");
    assert_eq!(glue_columns(get(input, &["PartitionKeys"])), json_columns(&json["partition_keys"]));
    let keys: Vec<String> = glue_columns(get(input, &["PartitionKeys"])).into_iter().map(|c| c.0).collect();
    assert_eq!(keys, ["year", "month", "day", "region"]);
    assert_eq!(
        get(sd, &["InputFormat"]).as_str(),
        Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
    );
    assert_eq!(
        get(sd, &["OutputFormat"]).as_str(),
        Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
    );
    assert_eq!(
        get(sd, &["SerdeInfo", "SerializationLibrary"]).as_str(),
        Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
    );
    assert_eq!(tag_name(get(sd, &["Location"])).as_deref(), Some("!Sub"));
    assert_eq!(untag(get(sd, &["Location"])).as_str(), Some("s3://${AnalyticsBucket}/iam-events/"));

    let params = get(input, &["Parameters"]);
    let param = |k: &str| get(params, &[k]).as_str().unwrap_or_else(|| panic!("{k} is not a string")).to_string();
    assert_eq!(param("projection.enabled"), "true");
    for (k, range) in
        [("year", json["parameters"]["projection.year.range"].as_str()), ("month", Some("1,12")), ("day", Some("1,31"))]
    {
        assert_eq!(param(&format!("projection.{k}.type")), "integer");
        assert_eq!(Some(param(&format!("projection.{k}.range"))).as_deref(), range, "{k}");
    }
    assert_eq!(param("projection.region.type"), "enum");
    let regions = get(params, &["projection.region.values"]);
    assert_eq!(tag_name(regions).as_deref(), Some("!If"), "regions from the AthenaRegions parameter");
    let text = serde_norway::to_string(regions).expect("yaml");
    assert!(text.contains("AthenaRegionsGiven") && text.contains("!Join") && text.contains("AthenaRegions"), "{text}");
    assert!(text.contains("unknown"), "events without a region stay queryable: {text}");
    let location = get(params, &["storage.location.template"]);
    assert_eq!(tag_name(location).as_deref(), Some("!Sub"));
    let location = untag(location).as_str().expect("template text");
    assert_eq!(
        location,
        "s3://${AnalyticsBucket}/iam-events/year=${!year}/month=${!month}/day=${!day}/region=${!region}/"
    );
    assert!(!location.trim_start_matches("s3://").contains("//"), "no double slash: {location}");
}

#[test]
fn the_off_hours_named_query_uses_the_template_hours() {
    let t = template();
    let queries = of_type(&t, "AWS::Athena::NamedQuery");
    let off = queries
        .iter()
        .find(|(_, q)| get(q, &["Properties", "Name"]).as_str().is_some_and(|n| n.ends_with("off_hours")))
        .expect("an off_hours named query");
    let sql = get(off.1, &["Properties", "QueryString"]);
    assert_eq!(tag_name(sql).as_deref(), Some("!Sub"));
    let sql = untag(sql).as_str().expect("query text");
    assert!(sql.contains("${OffHoursStart}") && sql.contains("${OffHoursEnd}"), "{sql}");
    assert!(sql.contains("current_date - INTERVAL '90' DAY"), "a window relative to the day it runs: {sql}");
    for (name, q) in &queries {
        let db = serde_norway::to_string(get(q, &["Properties", "Database"])).expect("yaml");
        assert!(db.contains("GlueDatabase"), "{name}: database {db}");
        assert_eq!(q.get("Condition").and_then(Value::as_str), Some("AnalyticsEnabled"), "{name}");
    }
}
