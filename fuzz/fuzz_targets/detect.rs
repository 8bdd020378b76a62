//! Fuzz target `detect`: arbitrary and mutated CloudTrail JSON through input splitting,
//! record parsing, routing and every built-in plugin (the embedded wasm components).
//!
//! Each input is used twice:
//! 1. as raw text (lossy UTF-8): `input::split_records`, then `CloudTrailEvent::parse` on
//!    every record and the plugins on every event that parses;
//! 2. as a recipe for a *mutated CloudTrail record*: the first byte picks a realistic seed
//!    record (a positive case of a built-in plugin), the rest of the bytes overwrite,
//!    delete and add fields (request parameters, response elements, the identity, policy
//!    documents as JSON, text or URL-encoded garbage, odd numbers), so the plugins see
//!    deep, near-valid shapes. The result goes through the same pipeline, wrapped as a
//!    single record, a trail file, an array or JSON Lines.
//!
//! Oracles: the host must not panic (a panic aborts the run and libFuzzer saves the input);
//! no plugin may fault: built-in plugins never return errors on events, so any fault
//! (trap, panic, timeout, memory limit, error) is a bug, printed with its record; and,
//! differentially, the same rules compiled natively (over the SDK's `NativeEvent`) must
//! name the same actor and raise the same alerts as the wasm components do through the
//! host's getters. The native rules are instrumented, so their branches also guide the
//! fuzzer (the wasm guest code itself is not instrumented).

#![no_main]

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use iam_tracker::detect;
use iam_tracker::dispatch::{self, Dispatcher, LoadOptions};
use iam_tracker::event::CloudTrailEvent;
use iam_tracker::input::{self, Item, Origin, Position};
use iam_tracker::plugin::Limits;
use iam_tracker::report::{RaisedAlert, Summary};
use iam_tracker_plugin_sdk::{Alert, Detector, Event, NativeEvent, PluginError, PluginInfo};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

thread_local! {
    /// One dispatcher with all 15 built-ins, loaded once per fuzzing process.
    static DISPATCHER: RefCell<Dispatcher> = RefCell::new(load());
    /// The same 14 detectors compiled natively (instrumented, so they guide the fuzzer).
    static NATIVE: Vec<NativeRule> = native_rules();
}

/// Object-safe view of a configured native [`Detector`].
trait Rule {
    fn run(&self, event: &Event) -> Result<Vec<Alert>, PluginError>;
}

impl<D: Detector> Rule for D {
    fn run(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        self.detect(event)
    }
}

struct NativeRule {
    info: PluginInfo,
    rule: Box<dyn Rule>,
}

fn native<D: Detector + 'static>() -> NativeRule {
    let info = D::info();
    let mut d = D::default();
    let config = iam_tracker::config::Config::default().plugin_config(&info.id);
    d.configure(&config).expect("native rule accepts the default config");
    NativeRule { info, rule: Box::new(d) }
}

fn native_rules() -> Vec<NativeRule> {
    let rules = vec![
        native::<iam_tracker_plugin_root_activity::RootActivity>(),
        native::<iam_tracker_plugin_user_creation::UserCreation>(),
        native::<iam_tracker_plugin_admin_policy_attachment::AdminPolicyAttachment>(),
        native::<iam_tracker_plugin_dangerous_inline_policy::DangerousInlinePolicy>(),
        native::<iam_tracker_plugin_access_key_creation::AccessKeyCreation>(),
        native::<iam_tracker_plugin_role_trust_policy::RoleTrustPolicy>(),
        native::<iam_tracker_plugin_access_key_update::AccessKeyUpdate>(),
        native::<iam_tracker_plugin_mfa_deletion::MfaDeletion>(),
        native::<iam_tracker_plugin_sso_permission_set_creation::SsoPermissionSetCreation>(),
        native::<iam_tracker_plugin_sso_permission_set_update::SsoPermissionSetUpdate>(),
        native::<iam_tracker_plugin_sso_admin_policy_attachment::SsoAdminPolicyAttachment>(),
        native::<iam_tracker_plugin_sso_account_assignment::SsoAccountAssignment>(),
        native::<iam_tracker_plugin_sso_app_creation::SsoAppCreation>(),
        native::<iam_tracker_plugin_sso_app_deletion::SsoAppDeletion>(),
    ];
    assert_eq!(rules.len() + 1, iam_tracker::plugin::builtin_ids().len(), "a built-in detector is missing natively");
    rules
}

/// What both sides must agree on, per alert.
type AlertKey = (String, String, String, String, String, Vec<(String, String)>);

fn key_of_raised(a: &RaisedAlert) -> AlertKey {
    (
        a.detector.clone(),
        a.severity.as_str().to_string(),
        a.title.clone(),
        a.message.clone(),
        a.dedup_key.clone(),
        a.context.clone(),
    )
}

/// Differential oracle: the wasm components (through the host's getters) and the same
/// rules natively (over `NativeEvent`) must name the same actor and raise the same alerts.
fn differential(d: &mut Dispatcher, ev: &Arc<CloudTrailEvent>, record: &str, raised: &[RaisedAlert]) {
    let Ok(native_ev) = NativeEvent::from_json(record) else {
        // The host accepts records whose whole tree serde_json cannot build (a number out
        // of f64 range, a lone surrogate escape, nesting past 128 levels): by design every
        // `field()` then answers `None` (see docs/fuzzing.md, "Findings"). Check just that.
        for path in ["requestParameters", "userIdentity.type", "eventSource", "responseElements"] {
            assert_eq!(ev.field(path), None, "field({path}) answered on a record with no JSON tree:\n{record}");
        }
        return;
    };
    let host_actor = d.extract_only(ev.clone()).expect("extractor faults are caught above");
    let native_actor = iam_tracker_plugin_sdk::identity::extract_user_name(&native_ev.event());
    assert_eq!(host_actor.as_deref(), Some(native_actor.as_str()), "actor differs (wasm vs native) on:\n{record}");
    let native_ev = native_ev.with_actor(host_actor.filter(|a| !a.is_empty()));
    let event = native_ev.event();
    let mut expected: Vec<AlertKey> = Vec::new();
    NATIVE.with(|rules| {
        for r in rules.iter().filter(|r| r.info.subscribes_to(&ev.event_source, &ev.event_name)) {
            let alerts =
                r.rule.run(&event).unwrap_or_else(|e| panic!("{} returned {e:?} natively on:\n{record}", r.info.id));
            for a in alerts {
                let dedup = a
                    .dedup_key
                    .unwrap_or_else(|| format!("{}:{}", r.info.id, ev.event_id.as_deref().unwrap_or_default()));
                expected.push((
                    r.info.id.clone(),
                    a.severity.as_str().to_string(),
                    a.title,
                    a.message,
                    dedup,
                    a.context,
                ));
            }
        }
    });
    let actual: Vec<AlertKey> = raised.iter().map(key_of_raised).collect();
    assert_eq!(actual, expected, "alerts differ (left: wasm, right: native) on:\n{record}");
}

fn load() -> Dispatcher {
    // A generous per-call deadline: the fuzzer shares 2 cores with other builds, and a
    // 100 ms deadline could trip on scheduling alone. A real hang still times out.
    let limits = Limits { call_timeout: Duration::from_secs(2), ..Limits::default() };
    let d = dispatch::load(&LoadOptions { limits, ..LoadOptions::default() })
        .expect("built-in plugins load (run `cargo xtask build-plugins` before building the fuzzer)");
    let n = d.plugins().count();
    assert_eq!(n, iam_tracker::plugin::builtin_ids().len(), "not every built-in plugin loaded");
    for p in d.plugins().filter(|p| !p.load.precompiled) {
        eprintln!("warning: {} was compiled, not loaded precompiled: {:?}", p.id(), p.load.fallback);
    }
    d
}

/// Realistic records to mutate: positive cases of the built-in plugins.
const SEEDS: &[&str] = &[
    include_str!("../../plugins/root-activity/cases/pos_root_login_success.json"),
    include_str!("../../plugins/user-creation/cases/pos_iam_user_creates_user.json"),
    include_str!("../../plugins/admin-policy-attachment/cases/pos_attach_role_policy_panther.json"),
    include_str!("../../plugins/dangerous-inline-policy/cases/pos_put_user_policy_star_raw_newlines.json"),
    include_str!("../../plugins/dangerous-inline-policy/cases/pos_put_role_policy_url_encoded_iam_star.json"),
    include_str!("../../plugins/role-trust-policy/cases/pos_create_role_wildcard_in_aws_list_wins.json"),
    include_str!("../../plugins/role-trust-policy/cases/pos_update_principal_list_star_url_encoded.json"),
    include_str!("../../plugins/access-key-creation/cases/pos_jack_creates_key_for_jackson.json"),
    include_str!("../../plugins/access-key-update/cases/pos_deactivate_other_users_key.json"),
    include_str!("../../plugins/mfa-deletion/cases/pos_delete_virtual_device.json"),
    include_str!("../../plugins/mfa-deletion/cases/pos_deactivate_hardware_token_assumed_role.json"),
    include_str!("../../plugins/sso-permission-set-creation/cases/pos_create_by_sso_admin_role.json"),
    include_str!("../../plugins/sso-permission-set-update/cases/pos_update_root_relay_state.json"),
    include_str!("../../plugins/sso-admin-policy-attachment/cases/pos_administrator_access_sso_admin_session.json"),
    include_str!("../../plugins/sso-account-assignment/cases/pos_user_on_member_account_sso_admin_session.json"),
    include_str!("../../plugins/sso-app-creation/cases/pos_hidden_display_name.json"),
    include_str!("../../plugins/sso-app-deletion/cases/pos_client_id_only_by_root.json"),
    include_str!("../../plugins/user-name/cases/assume_role_role_name.json"),
    include_str!("../../plugins/user-name/cases/assumed_role_session_issuer.json"),
];

/// Every (eventSource, eventName) a built-in subscribes to, plus near misses.
const ROUTES: &[(&str, &str)] = &[
    ("signin.amazonaws.com", "ConsoleLogin"),
    ("iam.amazonaws.com", "CreateUser"),
    ("iam.amazonaws.com", "AttachUserPolicy"),
    ("iam.amazonaws.com", "AttachRolePolicy"),
    ("iam.amazonaws.com", "AttachGroupPolicy"),
    ("iam.amazonaws.com", "PutUserPolicy"),
    ("iam.amazonaws.com", "PutRolePolicy"),
    ("iam.amazonaws.com", "PutGroupPolicy"),
    ("iam.amazonaws.com", "CreateAccessKey"),
    ("iam.amazonaws.com", "CreateRole"),
    ("iam.amazonaws.com", "UpdateAssumeRolePolicy"),
    ("iam.amazonaws.com", "UpdateAccessKey"),
    ("iam.amazonaws.com", "DeactivateMFADevice"),
    ("iam.amazonaws.com", "DeleteVirtualMFADevice"),
    ("sso.amazonaws.com", "CreatePermissionSet"),
    ("sso.amazonaws.com", "UpdatePermissionSet"),
    ("sso.amazonaws.com", "AttachManagedPolicyToPermissionSet"),
    ("sso.amazonaws.com", "CreateAccountAssignment"),
    ("sso.amazonaws.com", "CreateManagedApplicationInstance"),
    ("sso.amazonaws.com", "DeleteManagedApplicationInstance"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("sts.amazonaws.com", "AssumeRoleWithSAML"),
    ("sts.amazonaws.com", "AssumeRoleWithWebIdentity"),
    ("iam.amazonaws.com", "DetachRolePolicy"),
    ("ec2.amazonaws.com", "CreateUser"),
];

/// Fields the plugins and the extractor read.
const FIELDS: &[&str] = &[
    "additionalEventData.MFAUsed",
    "requestParameters.accessKeyId",
    "requestParameters.applicationArn",
    "requestParameters.applicationId",
    "requestParameters.applicationName",
    "requestParameters.assumeRolePolicyDocument",
    "requestParameters.clientId",
    "requestParameters.description",
    "requestParameters.displayName",
    "requestParameters.groupName",
    "requestParameters.instanceArn",
    "requestParameters.managedApplicationInstanceId",
    "requestParameters.name",
    "requestParameters.path",
    "requestParameters.permissionSetArn",
    "requestParameters.policyArn",
    "requestParameters.policyDocument",
    "requestParameters.policyName",
    "requestParameters.principalId",
    "requestParameters.principalType",
    "requestParameters.roleArn",
    "requestParameters.roleName",
    "requestParameters.serialNumber",
    "requestParameters.sessionDuration",
    "requestParameters.startUrl",
    "requestParameters.status",
    "requestParameters.targetId",
    "requestParameters.targetType",
    "requestParameters.templateId",
    "requestParameters.userName",
    "requestParameters.managedPolicyArn",
    "requestParameters.relayState",
    "responseElements",
    "responseElements.ConsoleLogin",
    "responseElements.accessKey.accessKeyId",
    "responseElements.accessKey.userName",
    "responseElements.accessKey.status",
    "responseElements.accountAssignmentCreationStatus",
    "responseElements.accountAssignmentCreationStatus.status",
    "responseElements.applicationArn",
    "responseElements.managedApplicationInstance.managedApplicationInstanceId",
    "responseElements.managedApplicationInstanceId",
    "responseElements.permissionSet.name",
    "responseElements.permissionSet.permissionSetArn",
    "responseElements.permissionSet.sessionDuration",
    "responseElements.role.arn",
    "responseElements.role.roleName",
    "responseElements.role.assumeRolePolicyDocument",
    "responseElements.user.arn",
    "responseElements.user.userName",
    "requestParameters",
    "userIdentity",
    "userIdentity.accountId",
    "userIdentity.arn",
    "userIdentity.invokedBy",
    "userIdentity.principalId",
    "userIdentity.sessionContext",
    "userIdentity.sessionContext.sessionIssuer",
    "userIdentity.sessionContext.sessionIssuer.arn",
    "userIdentity.sessionContext.sessionIssuer.userName",
    "userIdentity.type",
    "userIdentity.userName",
    "userIdentity.onBehalfOf.userId",
    "eventSource",
    "eventName",
    "eventID",
    "eventTime",
    "errorCode",
    "errorMessage",
    "recipientAccountId",
    "sourceIPAddress",
    "userAgent",
    "awsRegion",
];

const IDENTITY_TYPES: &[&str] = &[
    "Root",
    "IAMUser",
    "AssumedRole",
    "AWSAccount",
    "AWSService",
    "FederatedUser",
    "SAMLUser",
    "WebIdentityUser",
    "IdentityCenterUser",
    "Unknown",
    "root",
    "",
];

/// Strings near the values the rules compare against.
const STRINGS: &[&str] = &[
    "",
    " ",
    "*",
    "iam:*",
    "sts:*",
    "IAM:*",
    "*:*",
    "s3:*",
    "Allow",
    "ALLOW",
    "Deny",
    "Active",
    "Inactive",
    "ACTIVE",
    "Success",
    "Failure",
    "true",
    "false",
    "null",
    "HIDDEN_DUE_TO_SECURITY_REASONS",
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/IAMFullAccess",
    "arn:aws:iam::aws:policy/PowerUserAccess",
    "arn:aws-cn:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/",
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::999988887777:root",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:role/",
    "arn:aws:sts::111122223333:assumed-role/Admin/session",
    "arn:aws:sts::111122223333:assumed-role/",
    "arn:aws:sts::111122223333:federated-user/",
    "arn:aws:iam::111122223333:mfa/",
    "arn:aws:sso:::permissionSet/ssoins-1/ps-1",
    "arn:",
    "arn:aws",
    "::::::",
    "111122223333",
    "999988887777",
    "12345678901",
    "AROA",
    "AKIAEXAMPLE",
    "%",
    "%%",
    "%7",
    "%7B",
    "%zz",
    "%FF%FE",
    "%C3%28",
    "%E2%82",
    "%25",
    "%257B%2522Statement%2522",
    "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%7D%5D%7D",
    "{",
    "[",
    "{\"Statement\":",
    "\u{0}",
    "\u{feff}",
    "\u{10ffff}",
    "é",
    "İ",
    "ﬀ",
    "\n\r\t",
    "/",
    "//",
    "\\",
    "PT12H",
    "PT0S",
    "P1Y",
    "-1",
    "1e400",
    "18446744073709551616",
];

const KEYS: &[&str] = &[
    "Version",
    "Statement",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
    "Condition",
    "Sid",
    "type",
    "arn",
    "userName",
    "status",
    "name",
    "",
];

/// Raw JSON number tokens serde_json cannot represent as a `Value` (spliced in as text).
const RAW_NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "123456789012345678901234567890",
    "-0",
    "0.0000000000000000000000000001",
    "1E-400",
    "18446744073709551616",
    "-9223372036854775809",
];

/// Splices: `"\u{1}RAWn\u{1}"` in the serialized output becomes raw JSON text.
struct Raw(Vec<&'static str>);

impl Raw {
    fn placeholder(&mut self, u: &mut Unstructured) -> Value {
        let tok = pick(u, RAW_NUMBERS);
        self.0.push(tok);
        Value::String(format!("\u{1}RAW{}\u{1}", self.0.len() - 1))
    }

    fn apply(&self, mut text: String) -> String {
        for (i, tok) in self.0.iter().enumerate() {
            text = text.replace(&format!("\"\\u0001RAW{i}\\u0001\""), tok);
        }
        text
    }
}

fn pick<T: Copy>(u: &mut Unstructured, items: &[T]) -> T {
    items[u.choose_index(items.len()).unwrap_or(0)]
}

fn byte(u: &mut Unstructured) -> u8 {
    u.arbitrary::<u8>().unwrap_or(0)
}

fn fuzz_string(u: &mut Unstructured) -> String {
    match byte(u) % 8 {
        0..=2 => pick(u, STRINGS).to_string(),
        3 => {
            // A known string with a fuzz suffix or prefix.
            let s = pick(u, STRINGS);
            let extra: String = u.arbitrary().unwrap_or_default();
            if byte(u) % 2 == 0 {
                format!("{s}{extra}")
            } else {
                format!("{extra}{s}")
            }
        }
        4 => {
            // A long string (a few KB).
            let s = pick(u, STRINGS);
            let n = 1 + byte(u) as usize * 16;
            s.repeat(n.min(4096 / s.len().max(1)).max(1))
        }
        5 => {
            // An ARN with fuzzed segments.
            let part = pick(u, &["iam", "sts", "sso", "", "*"]);
            let acct = pick(u, &["111122223333", "999988887777", "aws", "", "*"]);
            let res: String = u.arbitrary().unwrap_or_default();
            format!("arn:{}:{part}::{acct}:{res}", pick(u, &["aws", "aws-cn", "aws-us-gov", ""]))
        }
        _ => u.arbitrary().unwrap_or_default(),
    }
}

fn fuzz_number(u: &mut Unstructured, raw: &mut Raw) -> Value {
    match byte(u) % 6 {
        0 => json!(u.arbitrary::<i64>().unwrap_or(0)),
        1 => json!(u.arbitrary::<u64>().unwrap_or(u64::MAX)),
        2 => serde_json::Number::from_f64(u.arbitrary::<f64>().unwrap_or(0.5)).map_or(Value::Null, Value::Number),
        3 => raw.placeholder(u),
        4 => json!(pick(u, &[0i64, -1, 1, 3600, 43200, i64::MIN, i64::MAX])),
        _ => json!(111122223333u64),
    }
}

/// Any JSON value, biased towards the shapes the plugins read.
fn fuzz_value(u: &mut Unstructured, raw: &mut Raw, depth: u32) -> Value {
    let choice = if depth >= 4 { byte(u) % 5 } else { byte(u) % 9 };
    match choice {
        0 => Value::Null,
        1 => Value::Bool(byte(u) % 2 == 0),
        2 => fuzz_number(u, raw),
        3 | 4 => Value::String(fuzz_string(u)),
        5 => {
            let n = byte(u) % 5;
            Value::Array((0..n).map(|_| fuzz_value(u, raw, depth + 1)).collect())
        }
        6 | 7 => {
            let n = byte(u) % 5;
            let mut m = Map::new();
            for _ in 0..n {
                let k = if byte(u) % 3 == 0 { fuzz_string(u) } else { pick(u, KEYS).to_string() };
                m.insert(k, fuzz_value(u, raw, depth + 1));
            }
            Value::Object(m)
        }
        _ => policy(u, raw, depth + 1),
    }
}

/// A string, a list of strings, or junk.
fn string_or_list(u: &mut Unstructured, raw: &mut Raw, depth: u32) -> Value {
    match byte(u) % 4 {
        0 | 1 => Value::String(fuzz_string(u)),
        2 => Value::Array((0..byte(u) % 4).map(|_| Value::String(fuzz_string(u))).collect()),
        _ => fuzz_value(u, raw, depth + 1),
    }
}

fn principal(u: &mut Unstructured, raw: &mut Raw, depth: u32) -> Value {
    match byte(u) % 4 {
        0 => json!("*"),
        1 | 2 => {
            let mut m = Map::new();
            for _ in 0..1 + byte(u) % 3 {
                let k = pick(u, &["AWS", "Service", "Federated", "CanonicalUser", "aws", ""]);
                m.insert(k.to_string(), string_or_list(u, raw, depth + 1));
            }
            Value::Object(m)
        }
        _ => fuzz_value(u, raw, depth + 1),
    }
}

fn statement(u: &mut Unstructured, raw: &mut Raw, depth: u32) -> Value {
    let mut m = Map::new();
    for _ in 0..byte(u) % 6 {
        let (k, v) = match byte(u) % 8 {
            0 | 1 => (
                "Effect",
                if byte(u) % 4 == 0 {
                    fuzz_value(u, raw, depth + 1)
                } else {
                    json!(pick(u, &["Allow", "Deny", "ALLOW", "allow", ""]))
                },
            ),
            2 => ("Action", string_or_list(u, raw, depth)),
            3 => ("NotAction", string_or_list(u, raw, depth)),
            4 => ("Resource", string_or_list(u, raw, depth)),
            5 => ("Principal", principal(u, raw, depth)),
            6 => ("NotPrincipal", principal(u, raw, depth)),
            _ => ("Condition", fuzz_value(u, raw, depth + 1)),
        };
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

/// A policy document as a JSON value.
fn policy(u: &mut Unstructured, raw: &mut Raw, depth: u32) -> Value {
    if depth > 5 {
        return Value::Null;
    }
    let stmts = match byte(u) % 4 {
        0 => statement(u, raw, depth),
        1 | 2 => Value::Array((0..byte(u) % 4).map(|_| statement(u, raw, depth)).collect()),
        _ => fuzz_value(u, raw, depth + 1),
    };
    let mut m = Map::new();
    if byte(u) % 2 == 0 {
        m.insert("Version".into(), json!(pick(u, &["2012-10-17", "2008-10-17", ""])));
    }
    m.insert(pick(u, &["Statement", "Statement", "statement"]).to_string(), stmts);
    Value::Object(m)
}

fn url_encode(s: &str, all: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if !all && (b.is_ascii_alphanumeric() || b == b'*' || b == b'-' || b == b'.' || b == b'_') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A policy document as CloudTrail may carry it: JSON text, URL-encoded (once, twice,
/// truncated), an object, or garbage.
fn policy_document(u: &mut Unstructured, raw: &mut Raw) -> Value {
    let doc = policy(u, raw, 0);
    let text = raw.apply(doc.to_string());
    match byte(u) % 8 {
        0 | 1 => Value::String(text),
        2 | 3 => Value::String(url_encode(&text, byte(u) % 2 == 0)),
        4 => Value::String(url_encode(&url_encode(&text, false), false)),
        5 => {
            // Truncated at a fuzz-chosen byte (may split a %XX escape or a UTF-8 char).
            let enc = if byte(u) % 2 == 0 { url_encode(&text, false) } else { text };
            let cut = u.int_in_range(0..=enc.len()).unwrap_or(0);
            let mut cut = cut.min(enc.len());
            while !enc.is_char_boundary(cut) {
                cut -= 1;
            }
            Value::String(enc[..cut].to_string())
        }
        6 => doc,
        _ => Value::String(fuzz_string(u)),
    }
}

fn path_set(root: &mut Value, path: &str, v: Value) {
    let mut cur = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(m) = cur else { return };
        if i + 1 == parts.len() {
            m.insert(part.to_string(), v);
            return;
        }
        cur = m.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

fn path_delete(root: &mut Value, path: &str) {
    let (parent, last) = match path.rsplit_once('.') {
        Some((p, l)) => (Some(p), l),
        None => (None, path),
    };
    let target = match parent {
        Some(p) => p.split('.').try_fold(&mut *root, |v, k| v.get_mut(k)),
        None => Some(root),
    };
    if let Some(Value::Object(m)) = target {
        m.remove(last);
    }
}

/// Every path (dotted, with array indexes) in the tree, for "mutate what is there".
fn all_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    let push = |k: String, child: &Value, out: &mut Vec<String>| {
        let p = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
        out.push(p.clone());
        all_paths(child, &p, out);
    };
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| push(k.clone(), c, out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| push(i.to_string(), c, out)),
        _ => {}
    }
}

fn path_set_existing(root: &mut Value, path: &str, v: Value) {
    let mut cur = root;
    for part in path.split('.') {
        cur = match cur {
            Value::Object(m) => match m.get_mut(part) {
                Some(c) => c,
                None => return,
            },
            Value::Array(a) => match part.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(c) => c,
                None => return,
            },
            _ => return,
        };
    }
    *cur = v;
}

/// Build a mutated CloudTrail record from the fuzz bytes.
fn mutated_record(data: &[u8]) -> String {
    let mut u = Unstructured::new(data);
    let mut raw = Raw(Vec::new());
    let seed = SEEDS[byte(&mut u) as usize % SEEDS.len()];
    let mut rec: Value = serde_json::from_str(seed).expect("seed records are valid JSON");
    let ops = 1 + byte(&mut u) % 12;
    for _ in 0..ops {
        if u.is_empty() {
            break;
        }
        match byte(&mut u) % 10 {
            0 | 1 => {
                let path = pick(&mut u, FIELDS);
                let v = fuzz_value(&mut u, &mut raw, 0);
                path_set(&mut rec, path, v);
            }
            2 => {
                let mut paths = Vec::new();
                all_paths(&rec, "", &mut paths);
                if !paths.is_empty() {
                    let p = paths[u.choose_index(paths.len()).unwrap_or(0)].clone();
                    let v = fuzz_value(&mut u, &mut raw, 0);
                    path_set_existing(&mut rec, &p, v);
                }
            }
            3 => {
                let mut paths = Vec::new();
                all_paths(&rec, "", &mut paths);
                if !paths.is_empty() {
                    let p = paths[u.choose_index(paths.len()).unwrap_or(0)].clone();
                    path_delete(&mut rec, &p);
                }
            }
            4 => {
                let t = if byte(&mut u) % 4 == 0 {
                    fuzz_value(&mut u, &mut raw, 2)
                } else {
                    json!(pick(&mut u, IDENTITY_TYPES))
                };
                path_set(&mut rec, "userIdentity.type", t);
            }
            5 | 6 => {
                let field = pick(
                    &mut u,
                    &[
                        "requestParameters.policyDocument",
                        "requestParameters.assumeRolePolicyDocument",
                        "requestParameters.inlinePolicy",
                        "responseElements.role.assumeRolePolicyDocument",
                    ],
                );
                let doc = policy_document(&mut u, &mut raw);
                path_set(&mut rec, field, doc);
            }
            7 => {
                let (source, name) = pick(&mut u, ROUTES);
                path_set(&mut rec, "eventSource", json!(source));
                path_set(&mut rec, "eventName", json!(name));
            }
            8 => {
                let field =
                    pick(&mut u, &["requestParameters", "responseElements", "userIdentity", "additionalEventData"]);
                let v = fuzz_value(&mut u, &mut raw, 0);
                path_set(&mut rec, field, v);
            }
            _ => {
                let status = pick(&mut u, &["AccessDenied", "NoSuchEntity", "", "Client.UnauthorizedOperation"]);
                let v = if byte(&mut u) % 3 == 0 { fuzz_value(&mut u, &mut raw, 2) } else { json!(status) };
                path_set(&mut rec, "errorCode", v);
            }
        }
    }
    let text =
        if byte(&mut u) % 4 == 0 { serde_json::to_string_pretty(&rec).unwrap_or_default() } else { rec.to_string() };
    raw.apply(text)
}

/// Split `text` into records and run each one that parses through the plugins.
fn run_text(d: &mut Dispatcher, text: &str) {
    input::split_records(text, |position, item| {
        if let Item::Record(record) = item {
            if let Ok(ev) = CloudTrailEvent::parse(record) {
                run_event(d, ev, position, record);
            }
        }
    });
}

fn run_event(d: &mut Dispatcher, ev: CloudTrailEvent, position: Position, record: &str) {
    // Exercise the lazy tree and the getters the plugins use, host side.
    let _ = ev.field("requestParameters.policyDocument");
    let _ = ev.field_text("userIdentity.sessionContext.sessionIssuer.arn");
    let origin = Origin { file: "fuzz".into(), position };
    let mut summary = Summary::default();
    let mut raised = Vec::new();
    let ev = Arc::new(ev);
    detect::process_event(d, ev.clone(), &origin, &mut |a| raised.push(a), &mut summary);
    if summary.plugin_faults > 0 {
        eprintln!("plugin fault(s) on record:\n{record}");
        for f in &summary.faults {
            eprintln!("  {} {}: {} (log: {:?})", f.plugin, f.kind, f.message, f.log_tail);
        }
        panic!("a built-in plugin faulted: {:?}", summary.faults);
    }
    if let Some(p) = d.plugins().find(|p| p.is_disabled()) {
        panic!("plugin {} is disabled: {:?}", p.id(), p.stats.disabled);
    }
    differential(d, &ev, record, &raised);
}

fuzz_target!(|data: &[u8]| {
    DISPATCHER.with(|cell| {
        let d = &mut *cell.borrow_mut();
        // (a) The bytes as they are.
        let text = String::from_utf8_lossy(data);
        run_text(d, &text);
        // (b) A mutated realistic record, in one of the input file shapes.
        if data.is_empty() {
            return;
        }
        let record = mutated_record(&data[1..]);
        let wrapped = match data[0] % 4 {
            0 => record,
            1 => format!("{{\"Records\":[{record}]}}"),
            2 => format!("[{record}]"),
            // Pretty-printed JSON has newlines only between tokens: safe to drop for JSON Lines.
            _ => format!("{}\n{}\n", SEEDS[0].replace('\n', ""), record.replace('\n', "")),
        };
        run_text(d, &wrapped);
    });
});
