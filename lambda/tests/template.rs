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
