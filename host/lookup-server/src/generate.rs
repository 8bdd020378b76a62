//! Deterministic synthetic CloudTrail records for benchmarks and demos: a mix of STS calls (in
//! every region), IAM reads and writes, console sign-ins and IAM Identity Center (SSO) calls (all
//! three in us-east-1, where AWS records these global services), spread evenly over a time window.
//! The same [`GenerateSpec`] always gives the same records, including event ids.
//!
//! Roughly: 55 % STS, 15 % IAM reads, 12 % IAM writes (some of which the built-in detectors
//! alert on: admin policy attachments, `*` inline policies, access keys, MFA removal, trust
//! policies), 8 % ConsoleLogin (a tenth by root), 10 % SSO; 3 % of writes fail with AccessDenied.

use serde_json::{json, Value};

use crate::time::{format_iso8601, MICROS_PER_SEC};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateSpec {
    /// Number of records.
    pub events: usize,
    /// Regions for STS events; IAM, sign-in and SSO events always go to us-east-1.
    pub regions: Vec<String>,
    /// Length of the window, in days, ending at `end_us`.
    pub days: u32,
    /// End of the window (microseconds since the epoch).
    pub end_us: i64,
    /// PRNG seed.
    pub seed: u64,
    /// Account id in ARNs and `recipientAccountId`.
    pub account_id: String,
}

impl GenerateSpec {
    /// `events` records over `days` days ending at `end_us`, in `regions`, seed 1, account 123456789012.
    pub fn new(events: usize, regions: Vec<String>, days: u32, end_us: i64) -> Self {
        Self { events, regions, days, end_us, seed: 1, account_id: "123456789012".to_owned() }
    }
}

/// splitmix64: small, fast, deterministic everywhere (the seed is the state; tests use
/// it too, for deterministic mixes and delays).
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn uuid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b"0123456789abcdef"[self.below(16)])).collect()
    }
}

const USERS: [&str; 4] = ["alice", "bob", "carol", "deploy-bot"];
const ROLES: [&str; 4] = ["Admin", "ReadOnly", "ci-deploy", "DataPipeline"];
const POLICIES: [&str; 5] =
    ["AdministratorAccess", "ReadOnlyAccess", "AdministratorAccess-Amplify", "IAMFullAccess", "AmazonS3ReadOnlyAccess"];
const IPS: [&str; 4] = ["198.51.100.23", "203.0.113.7", "192.0.2.44", "198.51.100.201"];

fn identity(rng: &mut Rng, acct: &str) -> Value {
    if rng.chance(0.45) {
        let user = rng.pick(&USERS);
        json!({
            "type": "IAMUser", "principalId": format!("AIDA{}", rng.hex(16).to_uppercase()),
            "arn": format!("arn:aws:iam::{acct}:user/{user}"), "accountId": acct,
            "accessKeyId": format!("AKIA{}", rng.hex(16).to_uppercase()), "userName": user
        })
    } else {
        let role = rng.pick(&ROLES);
        let session = format!("{}-{}", rng.pick(&USERS), rng.hex(6));
        json!({
            "type": "AssumedRole", "principalId": format!("AROA{}:{session}", rng.hex(16).to_uppercase()),
            "arn": format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}"), "accountId": acct,
            "accessKeyId": format!("ASIA{}", rng.hex(16).to_uppercase()),
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": format!("AROA{}", rng.hex(16).to_uppercase()),
                    "arn": format!("arn:aws:iam::{acct}:role/{role}"), "accountId": acct, "userName": role},
                "attributes": {"creationDate": "", "mfaAuthenticated": "false"}
            }
        })
    }
}

fn policy_doc(rng: &mut Rng) -> String {
    let action = *rng.pick(&["s3:GetObject", "*", "iam:*", "sts:AssumeRole", "ec2:Describe*"]);
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}).to_string()
}

fn trust_doc(rng: &mut Rng, acct: &str) -> String {
    let principal = match rng.below(4) {
        0 => json!({"Service": "lambda.amazonaws.com"}),
        1 => json!({"AWS": "arn:aws:iam::444455556666:root"}),
        2 => json!({"AWS": "*"}),
        _ => json!({"AWS": format!("arn:aws:iam::{acct}:root")}),
    };
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})
        .to_string()
}

/// (eventSource, eventName, readOnly, requestParameters, responseElements) for one event.
fn sts_call(rng: &mut Rng, acct: &str) -> (&'static str, &'static str, bool, Value, Value) {
    let r = rng.unit();
    if r < 0.6 {
        let role = rng.pick(&ROLES);
        let req = json!({"roleArn": format!("arn:aws:iam::{acct}:role/{role}"), "roleSessionName": format!("s-{}", rng.hex(8))});
        let resp =
            json!({"credentials": {"accessKeyId": format!("ASIA{}", rng.hex(16).to_uppercase()), "expiration": ""}});
        ("sts.amazonaws.com", "AssumeRole", false, req, resp)
    } else if r < 0.9 {
        ("sts.amazonaws.com", "GetCallerIdentity", true, Value::Null, Value::Null)
    } else if r < 0.95 {
        ("sts.amazonaws.com", "GetSessionToken", true, json!({"durationSeconds": 3600}), Value::Null)
    } else {
        let role = rng.pick(&ROLES);
        let req = json!({"roleArn": format!("arn:aws:iam::{acct}:role/{role}"), "roleSessionName": "web"});
        ("sts.amazonaws.com", "AssumeRoleWithWebIdentity", false, req, Value::Null)
    }
}

fn iam_read(rng: &mut Rng) -> (&'static str, &'static str, bool, Value, Value) {
    let name =
        *rng.pick(&["ListUsers", "GetUser", "GetRole", "ListRoles", "ListAttachedRolePolicies", "GetAccountSummary"]);
    let req = match name {
        "GetUser" => json!({"userName": rng.pick(&USERS)}),
        "GetRole" | "ListAttachedRolePolicies" => json!({"roleName": rng.pick(&ROLES)}),
        _ => Value::Null,
    };
    ("iam.amazonaws.com", name, true, req, Value::Null)
}

fn iam_write(rng: &mut Rng, acct: &str) -> (&'static str, &'static str, bool, Value, Value) {
    let user = *rng.pick(&USERS);
    let role = *rng.pick(&ROLES);
    let policy_arn = format!("arn:aws:iam::aws:policy/{}", rng.pick(&POLICIES));
    let (name, req, resp) = match rng.below(11) {
        0 => ("CreateUser", json!({"userName": format!("{user}-{}", rng.hex(4))}), json!({"user": {"userName": user}})),
        1 => ("AttachUserPolicy", json!({"userName": user, "policyArn": policy_arn}), Value::Null),
        2 => ("AttachRolePolicy", json!({"roleName": role, "policyArn": policy_arn}), Value::Null),
        3 => ("DetachRolePolicy", json!({"roleName": role, "policyArn": policy_arn}), Value::Null),
        4 => (
            "PutUserPolicy",
            json!({"userName": user, "policyName": "inline", "policyDocument": policy_doc(rng)}),
            Value::Null,
        ),
        5 => (
            "PutRolePolicy",
            json!({"roleName": role, "policyName": "inline", "policyDocument": policy_doc(rng)}),
            Value::Null,
        ),
        6 => {
            let key = format!("AKIA{}", rng.hex(16).to_uppercase());
            (
                "CreateAccessKey",
                json!({"userName": user}),
                json!({"accessKey": {"accessKeyId": key, "status": "Active", "userName": user}}),
            )
        }
        7 => {
            let key = format!("AKIA{}", rng.hex(16).to_uppercase());
            (
                "UpdateAccessKey",
                json!({"userName": user, "accessKeyId": key, "status": *rng.pick(&["Active", "Inactive"])}),
                Value::Null,
            )
        }
        8 => (
            "DeactivateMFADevice",
            json!({"userName": user, "serialNumber": format!("arn:aws:iam::{acct}:mfa/{user}")}),
            Value::Null,
        ),
        9 => {
            ("DeleteVirtualMFADevice", json!({"serialNumber": format!("arn:aws:iam::{acct}:mfa/{user}")}), Value::Null)
        }
        _ => ("UpdateAssumeRolePolicy", json!({"roleName": role, "policyDocument": trust_doc(rng, acct)}), Value::Null),
    };
    ("iam.amazonaws.com", name, false, req, resp)
}

fn sso_call(rng: &mut Rng) -> (&'static str, &'static str, bool, Value, Value) {
    let instance = "arn:aws:sso:::instance/ssoins-72233af8ea2d1f14";
    let ps = format!("arn:aws:sso:::permissionSet/ssoins-72233af8ea2d1f14/ps-{}", rng.hex(16));
    let (name, ro, req) = match rng.below(8) {
        0 => ("ListPermissionSets", true, json!({"instanceArn": instance})),
        1 => ("DescribePermissionSet", true, json!({"instanceArn": instance, "permissionSetArn": ps})),
        2 => (
            "CreatePermissionSet",
            false,
            json!({"instanceArn": instance, "name": format!("ps-{}", rng.hex(4)), "sessionDuration": "PT8H"}),
        ),
        3 => (
            "UpdatePermissionSet",
            false,
            json!({"instanceArn": instance, "permissionSetArn": ps, "description": "updated", "sessionDuration": "PT4H"}),
        ),
        4 => {
            let policy = format!("arn:aws:iam::aws:policy/{}", rng.pick(&POLICIES));
            (
                "AttachManagedPolicyToPermissionSet",
                false,
                json!({"instanceArn": instance, "permissionSetArn": ps, "managedPolicyArn": policy}),
            )
        }
        5 => (
            "CreateAccountAssignment",
            false,
            json!({"instanceArn": instance, "permissionSetArn": ps, "principalType": "GROUP",
                "principalId": rng.uuid(), "targetType": "AWS_ACCOUNT", "targetId": "444455556666"}),
        ),
        6 => (
            "CreateManagedApplicationInstance",
            false,
            json!({"instanceArn": instance, "displayName": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
        ),
        _ => (
            "DeleteManagedApplicationInstance",
            false,
            json!({"instanceArn": instance, "managedApplicationInstanceId": format!("ins-{}", rng.hex(16))}),
        ),
    };
    ("sso.amazonaws.com", name, ro, req, Value::Null)
}

/// Generates the records, as `(region, record)` pairs, oldest first.
pub fn generate(spec: &GenerateSpec) -> Vec<(String, Value)> {
    generate_iter(spec).collect()
}

/// Like [`generate`], one record at a time (for large counts: no intermediate vector).
pub fn generate_iter(spec: &GenerateSpec) -> impl Iterator<Item = (String, Value)> + '_ {
    let mut rng = Rng(spec.seed ^ 0x6c6f_6f6b_7570);
    let regions: Vec<String> =
        if spec.regions.is_empty() { vec!["us-east-1".to_owned()] } else { spec.regions.clone() };
    (0..spec.events).map(move |i| one_record(&mut rng, spec, &regions, i))
}

/// Record `i` of the spec.
fn one_record(rng: &mut Rng, spec: &GenerateSpec, regions: &[String], i: usize) -> (String, Value) {
    let acct = spec.account_id.as_str();
    let span_us = i64::from(spec.days.max(1)) * 86_400 * MICROS_PER_SEC;
    let n = spec.events.max(1) as f64;
    // Slot i of n, oldest first, jittered within the slot, whole seconds.
    let frac = (spec.events - 1 - i) as f64 / n + rng.unit() / n;
    let t = spec.end_us - (frac * span_us as f64) as i64;
    let t = t - t.rem_euclid(MICROS_PER_SEC);
    let kind = rng.unit();
    let mut event_type = "AwsApiCall";
    let mut user_identity = identity(rng, acct);
    let mut additional = Value::Null;
    let (region, (source, name, read_only, req, resp)) = if kind < 0.55 {
        (rng.pick(regions).clone(), sts_call(rng, acct))
    } else if kind < 0.70 {
        ("us-east-1".to_owned(), iam_read(rng))
    } else if kind < 0.82 {
        ("us-east-1".to_owned(), iam_write(rng, acct))
    } else if kind < 0.90 {
        event_type = "AwsConsoleSignIn";
        if rng.chance(0.1) {
            user_identity = json!({"type": "Root", "principalId": acct, "arn": format!("arn:aws:iam::{acct}:root"), "accountId": acct});
        }
        let ok = *rng.pick(&["Success", "Success", "Success", "Failure"]);
        additional = json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No",
            "MFAUsed": *rng.pick(&["Yes", "No"])});
        (
            "us-east-1".to_owned(),
            ("signin.amazonaws.com", "ConsoleLogin", false, Value::Null, json!({"ConsoleLogin": ok})),
        )
    } else {
        ("us-east-1".to_owned(), sso_call(rng))
    };
    let mut rec = json!({
        "eventVersion": "1.08",
        "userIdentity": user_identity,
        "eventTime": format_iso8601(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": rng.pick(&IPS),
        "userAgent": *rng.pick(&["aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0", "Boto3/1.34.0 Python/3.12.1", "aws-sdk-rust/1.3.0 os/linux lang/rust/1.95.0"]),
        "requestParameters": req,
        "responseElements": resp,
        "requestID": rng.uuid(),
        "eventID": rng.uuid(),
        "readOnly": read_only,
        "eventType": event_type,
        "managementEvent": true,
        "recipientAccountId": acct,
        "eventCategory": "Management",
    });
    if !additional.is_null() {
        rec["additionalEventData"] = additional;
    }
    if !read_only && event_type == "AwsApiCall" && rng.chance(0.03) {
        rec["errorCode"] = json!("AccessDenied");
        rec["errorMessage"] = json!(format!("User is not authorized to perform: {}", name));
        rec["responseElements"] = Value::Null;
    }
    (region, rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_iso8601;

    #[test]
    fn deterministic_and_in_window() {
        let end = parse_iso8601("2026-03-01T00:00:00Z").expect("time");
        let spec = GenerateSpec::new(2000, vec!["us-east-1".into(), "eu-west-1".into(), "ap-south-1".into()], 3, end);
        let a = generate(&spec);
        let b = generate(&spec);
        assert_eq!(a, b);
        assert_eq!(a.len(), 2000);
        let start = end - 3 * 86_400 * MICROS_PER_SEC;
        for (region, rec) in &a {
            let t = parse_iso8601(rec["eventTime"].as_str().expect("time")).expect("parses");
            assert!((start..=end).contains(&t));
            let source = rec["eventSource"].as_str().expect("source");
            if source != "sts.amazonaws.com" {
                assert_eq!(region, "us-east-1");
            }
            assert_eq!(rec["awsRegion"].as_str(), Some(region.as_str()));
        }
        let sts_regions: std::collections::BTreeSet<_> =
            a.iter().filter(|(_, r)| r["eventSource"] == "sts.amazonaws.com").map(|(g, _)| g.clone()).collect();
        assert_eq!(sts_regions.len(), 3);
        let ids: std::collections::HashSet<_> =
            a.iter().map(|(_, r)| r["eventID"].as_str().expect("id").to_owned()).collect();
        assert_eq!(ids.len(), 2000);
    }
}
