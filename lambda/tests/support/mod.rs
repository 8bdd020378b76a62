//! What the end-to-end test (`tests/e2e.rs`) and the cold-start bench (`benches/cold_start.rs`)
//! share: the local servers (the host tests' DynamoDB and moto support, included by path), our
//! Runtime API stub, the seeded LookupEvents world the `tracker` collects, and the environment a
//! function process gets. Each user takes the part it needs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use iam_tracker_lookup_server::{LookupServer, ServerConfig};
use serde_json::{json, Value};

#[path = "../../../host/tests/it/support/dynamodb.rs"]
pub mod dynamodb;
#[path = "../../../host/tests/it/support/moto.rs"]
pub mod moto;
pub mod runtime_api;

use runtime_api::RuntimeApi;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where the built plugins are: `$IAM_TRACKER_PLUGIN_DIST` (as `host/build.rs` reads it), else
/// `target/plugins`.
pub fn plugin_dist() -> PathBuf {
    std::env::var_os("IAM_TRACKER_PLUGIN_DIST").map(PathBuf::from).unwrap_or_else(|| root().join("target/plugins"))
}

pub const ACCOUNT: &str = "111122223333";

/// A CloudTrail record in `us-east-1`: by `alice` (an IAM user), or by the root user.
pub fn record(id: &str, secs: i64, source: &str, name: &str, root: bool) -> Value {
    let identity = if root {
        json!({"type": "Root", "arn": format!("arn:aws:iam::{ACCOUNT}:root"), "accountId": ACCOUNT})
    } else {
        json!({"type": "IAMUser", "userName": "alice", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            "accountId": ACCOUNT})
    };
    json!({
        "eventVersion": "1.08", "userIdentity": identity,
        "eventTime": iam_tracker::timefmt::rfc3339(secs), "eventSource": source, "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15",
        "requestParameters": if name == "CreateUser" { json!({"userName": format!("u-{id}")}) } else { Value::Null },
        "responseElements": if source.starts_with("signin") { json!({"ConsoleLogin": "Success"}) } else { Value::Null },
        "eventID": id, "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT,
    })
}

/// Events [`lookup_world`] seeds: 10 each of CreateUser, ListUsers, root ConsoleLogin and
/// alice's ConsoleLogin, over the last hour.
pub const SEEDED: usize = 40;
/// The alerts those raise: 10 from `user-creation`, 10 from `root-activity`.
pub const SEEDED_ALERTS: usize = 20;

/// A LookupEvents server holding the [`SEEDED`] events in `us-east-1`; returns it with their ids.
pub fn lookup_world() -> (LookupServer, Vec<String>) {
    let lookup = LookupServer::start_in_thread(ServerConfig { rate_per_region: 50.0, ..ServerConfig::default() })
        .expect("lookup server");
    let now = iam_tracker::timefmt::now();
    let mut ids = Vec::new();
    for i in 0..SEEDED as i64 {
        let (source, name, root) = match i % 4 {
            0 => ("iam.amazonaws.com", "CreateUser", false),
            1 => ("iam.amazonaws.com", "ListUsers", false),
            2 => ("signin.amazonaws.com", "ConsoleLogin", true),
            _ => ("signin.amazonaws.com", "ConsoleLogin", false),
        };
        let id = format!("evt-{i:03}");
        lookup.add_event("us-east-1", record(&id, now - 3600 + i * 30, source, name, root)).expect("seed");
        ids.push(id);
    }
    (lookup, ids)
}

/// A fresh alerts topic on moto; returns its ARN.
pub fn moto_topic(prefix: &str) -> String {
    let rt = rt();
    let config = rt.block_on(moto::sdk_config());
    let sns = aws_sdk_sns::Client::new(&config);
    let name = moto::unique_name(prefix);
    rt.block_on(sns.create_topic().name(&name).send()).expect("create topic").topic_arn().expect("arn").to_string()
}

/// A clean environment with static test credentials, no instance-metadata probing, and every
/// AWS service pointed at a local server (LookupEvents and DescribeRegions at `lookup`).
pub fn aws_env(cmd: &mut Command, lookup: &str, dynamodb: &str, moto: &str) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_CLOUDTRAIL", lookup)
        .env("AWS_ENDPOINT_URL_EC2", lookup)
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb)
        .env("AWS_ENDPOINT_URL_SNS", moto)
        .env("AWS_ENDPOINT_URL_S3", moto);
}

/// What the Lambda service sets for a function called `name` with `memory_mb` of memory.
pub fn lambda_env(cmd: &mut Command, api: &RuntimeApi, name: &str, memory_mb: u32) {
    cmd.env("AWS_LAMBDA_RUNTIME_API", &api.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string())
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test");
}

/// The `tracker`'s own variables: its tables, the alerts topic, IAM and sign-in events only.
pub fn tracker_env(cmd: &mut Command, tables: &iam_tracker::aws::dynamodb::TableNames, topic: &str) {
    cmd.env("EVENTS_TABLE_NAME", &tables.events)
        .env("CONTROL_TABLE_NAME", &tables.control)
        .env("ALERTS_TABLE_NAME", &tables.alerts)
        .env("ALERTS_SNS_TOPIC_ARN", topic)
        .env("PROCESS_STS_EVENTS", "false")
        .env("PROCESS_SSO_EVENTS", "false")
        .env("LOG_LEVEL", "INFO");
}

/// One scheduled invocation; its response body, or a panic naming `what` and the error.
pub fn invoke(api: &RuntimeApi, what: &str) -> Value {
    api.invoke(json!({"source": "aws.events"}), Duration::from_secs(120), Duration::from_secs(150))
        .unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

/// Peak resident memory of a running process (`VmHWM`, KiB), from `/proc`.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Kills the function process when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// Stop the function and return the EMF metric lines it printed on stdout (piped).
    pub fn stop_and_emf_lines(&mut self) -> Vec<Value> {
        use std::io::Read;
        let _ = self.0.kill();
        let mut out = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            stdout.read_to_string(&mut out).expect("read the function's stdout");
        }
        out.lines().filter_map(|l| serde_json::from_str(l).ok()).filter(|v: &Value| v.get("_aws").is_some()).collect()
    }
}

/// A current-thread runtime for the SDK calls the fixtures make.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}
