//! Synthetic CloudTrail corpus for the pipeline benchmark.
//!
//! Deterministic: a SplitMix64 generator seeded from `--seed` drives every choice, so the
//! same arguments always give byte-identical files. No dependencies beyond `std`.
//!
//! Records are compact JSON, as in CloudTrail's own log files, about 1.5 KB on average. The
//! mix is modelled on a busy account where almost nothing is interesting:
//!
//! - ~63% Describe*/Get*/List* reads over ~30 services (EC2, S3, IAM, Lambda, RDS, logs,
//!   ECS, DynamoDB, SSO, KMS, Organizations, ...), including reads on the sources the
//!   detectors watch (IAM, SSO) under names they do not subscribe to;
//! - ~11.5% STS AssumeRole (and a few AssumeRoleWithSAML/WebIdentity), with credentials in
//!   the response;
//! - ~9% KMS Decrypt/GenerateDataKey, mostly by AWS services;
//! - ~11.5% other writes nobody subscribes to (PutObject, RunInstances, CreateLogStream,
//!   IAM CreatePolicy/TagRole, SSO ProvisionPermissionSet, ...);
//! - ~2% console sign-ins by IAM users and SSO roles (routed to `root-activity`, no alert);
//! - ~3% the IAM/STS/SSO calls the 14 detectors subscribe to (root sign-in, CreateUser,
//!   CreateAccessKey, Attach*/Put*Policy, CreateRole, SSO permission sets, ...), about
//!   half of them built to raise an alert and the rest benign variants (non-admin policy,
//!   service trust principal, ...);
//! - ~5% of all API calls fail with AccessDenied (no alert even when subscribed).
//!
//! The files are trail files (`{"Records":[...]}`) of `per_file` records each.

use std::collections::BTreeMap;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub events: usize,
    pub seed: u64,
    pub per_file: usize,
}

/// The generated corpus and its shape.
pub struct Corpus {
    /// Trail files (`{"Records":[...]}`), in order.
    pub files: Vec<String>,
    pub records: usize,
    /// Bytes of record text (excluding the trail-file wrapper).
    pub record_bytes: usize,
    pub min_record: usize,
    pub max_record: usize,
    /// Records per category.
    pub mix: BTreeMap<&'static str, usize>,
    /// Records carrying an `errorCode`.
    pub errors: usize,
}

impl Corpus {
    pub fn avg_record(&self) -> f64 {
        self.record_bytes as f64 / self.records.max(1) as f64
    }

    pub fn total_bytes(&self) -> usize {
        self.files.iter().map(String::len).sum()
    }
}

/// SplitMix64: tiny, fast, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Pick by weight from `(weight, item)` pairs.
    pub fn weighted<T: Copy>(&mut self, items: &[(u32, T)]) -> T {
        let total: u32 = items.iter().map(|(w, _)| *w).sum();
        let mut r = self.below(total as usize) as u32;
        for (w, item) in items {
            if r < *w {
                return *item;
            }
            r -= w;
        }
        items[items.len() - 1].1
    }

    fn chars(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n).map(|_| alphabet[self.below(alphabet.len())] as char).collect()
    }

    pub fn upper(&mut self, n: usize) -> String {
        self.chars(n, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    }

    pub fn hex(&mut self, n: usize) -> String {
        self.chars(n, b"0123456789abcdef")
    }

    pub fn b64(&mut self, n: usize) -> String {
        self.chars(n, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    }

    pub fn uuid(&mut self) -> String {
        format!("{}-{}-{}-{}-{}", self.hex(8), self.hex(4), self.hex(4), self.hex(4), self.hex(12))
    }
}

// ---------------------------------------------------------------------------------------
// A tiny JSON writer (compact, keys in insertion order like CloudTrail's files).

fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON object under construction.
struct Obj(String);

impl Obj {
    fn new() -> Self {
        Obj(String::with_capacity(256))
    }

    fn key(&mut self, k: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        push_json_str(&mut self.0, k);
        self.0.push(':');
    }

    fn s(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        push_json_str(&mut self.0, v);
        self
    }

    fn raw(mut self, k: &str, v: &str) -> Self {
        self.key(k);
        self.0.push_str(v);
        self
    }

    fn n(self, k: &str, v: u64) -> Self {
        self.raw(k, &v.to_string())
    }

    fn b(self, k: &str, v: bool) -> Self {
        self.raw(k, if v { "true" } else { "false" })
    }

    fn end(mut self) -> String {
        if self.0.is_empty() {
            return "{}".into();
        }
        self.0.push('}');
        self.0
    }
}

fn arr(items: &[String]) -> String {
    format!("[{}]", items.join(","))
}

/// `%`-encode a string the way older IAM events record policy documents.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Pools.

const HOME: &str = "111122223333";
const ACCOUNTS: &[(u32, &str)] = &[(70, HOME), (20, "444455556666"), (10, "777788889999")];
const EXTERNAL: &str = "999988887777";
const REGIONS: &[(u32, &str)] =
    &[(50, "us-east-1"), (20, "us-west-2"), (15, "eu-west-1"), (10, "eu-central-1"), (5, "ap-southeast-2")];
const ROLES: &[&str] = &[
    "ci-deploy",
    "eks-node-group-prod",
    "lambda-orders-processor",
    "ecs-task-payments",
    "DatadogIntegrationRole",
    "OrganizationAccountAccessRole",
    "terraform-apply",
    "github-actions-oidc",
    "data-pipeline-glue",
    "SecurityAudit-Prowler",
    "karpenter-controller",
    "backup-service-role",
];
const SSO_ROLES: &[&str] = &[
    "AWSReservedSSO_AdministratorAccess_3f2a1b0c9d8e7f6a",
    "AWSReservedSSO_ReadOnly_0a1b2c3d4e5f6a7b",
    "AWSReservedSSO_PowerUser_9e8d7c6b5a493827",
];
const USERS: &[&str] = &["alice", "bob", "carol.ops", "deploy-bot", "jenkins", "backup-svc", "dave", "erin.sec"];
const EMAILS: &[&str] = &["alice@example.com", "bob@example.com", "frank@example.com", "grace@example.com"];
const SERVICES: &[&str] = &[
    "lambda.amazonaws.com",
    "ec2.amazonaws.com",
    "cloudformation.amazonaws.com",
    "autoscaling.amazonaws.com",
    "s3.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "ssm.amazonaws.com",
    "secretsmanager.amazonaws.com",
];
const BUCKETS: &[&str] = &["acme-prod-logs", "acme-artifacts", "acme-data-lake-raw", "acme-tfstate", "acme-backups"];
const IPS: &[&str] = &["203.0.113.10", "203.0.113.24", "198.51.100.7", "198.51.100.42", "192.0.2.15", "10.0.14.201"];

fn user_agent(rng: &mut Rng, who: &Who) -> String {
    match who {
        Who::Service(s) => s.to_string(),
        _ => rng
            .weighted(&[
                (30, "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0-1014-aws md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off md/command#"),
                (30, "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.10.209-198.858.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.51"),
                (15, "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.0 md/GOOS#linux md/GOARCH#amd64 api/"),
                (10, "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.39.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.0"),
                (10, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"),
                (5, "AWS Internal"),
            ])
            .to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Identities.

enum Who {
    Role { role: String, session: String, sso: bool },
    User(String),
    Service(&'static str),
    Root,
    Account(String),
    Federated(String),
}

struct Actor {
    who: Who,
    account: &'static str,
}

fn random_actor(rng: &mut Rng) -> Actor {
    let account = rng.weighted(ACCOUNTS);
    let who = match rng.below(1000) {
        0..=619 => {
            let role = rng.pick(ROLES).to_string();
            let session = match rng.below(4) {
                0 => format!("i-0{}", rng.hex(16)),
                1 => format!("botocore-session-{}", 1_709_251_200 + rng.below(900_000)),
                2 => "GitHubActions".to_string(),
                _ => format!("aws-go-sdk-{}", 1_709_251_200_000_000_000u64 + rng.next_u64() % 1_000_000_000),
            };
            Who::Role { role, session, sso: false }
        }
        620..=719 => {
            Who::Role { role: rng.pick(SSO_ROLES).to_string(), session: rng.pick(EMAILS).to_string(), sso: true }
        }
        720..=879 => Who::User(rng.pick(USERS).to_string()),
        880..=979 => Who::Service(rng.pick(SERVICES)),
        980..=989 => Who::Account(EXTERNAL.to_string()),
        990..=997 => Who::Federated(rng.pick(USERS).to_string()),
        _ => Who::Root,
    };
    Actor { who, account }
}

fn human_actor(rng: &mut Rng) -> Actor {
    let account = rng.weighted(ACCOUNTS);
    let who = match rng.below(10) {
        0..=3 => Who::Role { role: "terraform-apply".into(), session: "terraform".into(), sso: false },
        4..=6 => Who::Role { role: rng.pick(SSO_ROLES).to_string(), session: rng.pick(EMAILS).to_string(), sso: true },
        7..=8 => Who::User(rng.pick(USERS).to_string()),
        _ => Who::Root,
    };
    Actor { who, account }
}

fn identity(rng: &mut Rng, a: &Actor, console: bool) -> String {
    let acct = a.account;
    match &a.who {
        Who::Role { role, session, sso } => {
            let role_id = format!("AROA{}", rng.upper(17));
            let path = if *sso { "aws-reserved/sso.amazonaws.com/" } else { "" };
            let issuer = Obj::new()
                .s("type", "Role")
                .s("principalId", &role_id)
                .s("arn", &format!("arn:aws:iam::{acct}:role/{path}{role}"))
                .s("accountId", acct)
                .s("userName", role)
                .end();
            let attributes = Obj::new()
                .s(
                    "creationDate",
                    &format!("2026-03-01T{:02}:{:02}:{:02}Z", rng.below(24), rng.below(60), rng.below(60)),
                )
                .s("mfaAuthenticated", if *sso { "true" } else { "false" })
                .end();
            let mut ctx = Obj::new()
                .raw("sessionIssuer", &issuer)
                .raw("webIdFederationData", "{}")
                .raw("attributes", &attributes);
            if *sso || console {
                ctx = ctx.s("sourceIdentity", session);
            }
            Obj::new()
                .s("type", "AssumedRole")
                .s("principalId", &format!("{role_id}:{session}"))
                .s("arn", &format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}"))
                .s("accountId", acct)
                .s("accessKeyId", &format!("ASIA{}", rng.upper(16)))
                .raw("sessionContext", &ctx.end())
                .end()
        }
        Who::User(name) => {
            let mut o = Obj::new()
                .s("type", "IAMUser")
                .s("principalId", &format!("AIDA{}", rng.upper(17)))
                .s("arn", &format!("arn:aws:iam::{acct}:user/{name}"))
                .s("accountId", acct);
            if !console {
                o = o.s("accessKeyId", &format!("AKIA{}", rng.upper(16)));
            }
            o = o.s("userName", name);
            if rng.chance(0.3) {
                let attributes = Obj::new()
                    .s("creationDate", &format!("2026-03-01T{:02}:{:02}:00Z", rng.below(24), rng.below(60)))
                    .s("mfaAuthenticated", "true")
                    .end();
                o = o.raw(
                    "sessionContext",
                    &Obj::new()
                        .raw("sessionIssuer", "{}")
                        .raw("webIdFederationData", "{}")
                        .raw("attributes", &attributes)
                        .end(),
                );
            }
            o.end()
        }
        Who::Service(s) => Obj::new().s("type", "AWSService").s("invokedBy", s).end(),
        Who::Root => Obj::new()
            .s("type", "Root")
            .s("principalId", acct)
            .s("arn", &format!("arn:aws:iam::{acct}:root"))
            .s("accountId", acct)
            .s("accessKeyId", if console { "" } else { "ASIAROOTEXAMPLE00001" })
            .end(),
        Who::Account(other) => Obj::new()
            .s("type", "AWSAccount")
            .s("principalId", &format!("AIDA{}", rng.upper(17)))
            .s("accountId", other)
            .end(),
        Who::Federated(name) => Obj::new()
            .s("type", "FederatedUser")
            .s("principalId", &format!("{acct}:{name}"))
            .s("arn", &format!("arn:aws:sts::{acct}:federated-user/{name}"))
            .s("accountId", acct)
            .s("accessKeyId", &format!("ASIA{}", rng.upper(16)))
            .end(),
    }
}

fn actor_arn(a: &Actor) -> String {
    let acct = a.account;
    match &a.who {
        Who::Role { role, session, .. } => format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}"),
        Who::User(n) => format!("arn:aws:iam::{acct}:user/{n}"),
        Who::Root => format!("arn:aws:iam::{acct}:root"),
        Who::Service(s) => s.to_string(),
        Who::Account(o) => format!("arn:aws:iam::{o}:root"),
        Who::Federated(n) => format!("arn:aws:sts::{acct}:federated-user/{n}"),
    }
}

// ---------------------------------------------------------------------------------------
// The envelope shared by every record.

struct Call {
    source: &'static str,
    name: String,
    request: String,
    response: String,
    additional: Option<String>,
    resources: Option<String>,
    read_only: bool,
    data_event: bool,
    event_type: &'static str,
    error_code: Option<String>,
    error_message: Option<String>,
    shared_event_id: bool,
    console: bool,
}

impl Call {
    fn new(source: &'static str, name: &str, request: String) -> Self {
        Call {
            source,
            name: name.to_string(),
            request,
            response: "null".into(),
            additional: None,
            resources: None,
            read_only: false,
            data_event: false,
            event_type: "AwsApiCall",
            error_code: None,
            error_message: None,
            shared_event_id: false,
            console: false,
        }
    }
}

struct Clock {
    secs: u64,
}

impl Clock {
    fn tick(&mut self, rng: &mut Rng) -> String {
        self.secs += 1 + rng.below(3) as u64;
        let s = self.secs;
        let day = 1 + (s / 86_400) % 28;
        format!("2026-03-{day:02}T{:02}:{:02}:{:02}Z", (s / 3600) % 24, (s / 60) % 60, s % 60)
    }
}

fn record(rng: &mut Rng, clock: &mut Clock, actor: &Actor, c: Call) -> String {
    let region = if c.source == "iam.amazonaws.com" || c.source == "signin.amazonaws.com" && rng.chance(0.8) {
        "us-east-1"
    } else {
        rng.weighted(REGIONS)
    };
    let (ip, agent) = match &actor.who {
        Who::Service(s) => (s.to_string(), s.to_string()),
        _ => (rng.pick(IPS).to_string(), user_agent(rng, &actor.who)),
    };
    let mut o = Obj::new()
        .s("eventVersion", if c.console { "1.08" } else { "1.09" })
        .raw("userIdentity", &identity(rng, actor, c.console))
        .s("eventTime", &clock.tick(rng))
        .s("eventSource", c.source)
        .s("eventName", &c.name)
        .s("awsRegion", region)
        .s("sourceIPAddress", &ip)
        .s("userAgent", &agent);
    if let Some(code) = &c.error_code {
        o = o.s("errorCode", code);
    }
    if let Some(message) = &c.error_message {
        o = o.s("errorMessage", message);
    }
    o = o.raw("requestParameters", &c.request).raw("responseElements", &c.response);
    if let Some(a) = &c.additional {
        o = o.raw("additionalEventData", a);
    }
    if !c.console {
        o = o.s("requestID", &rng.uuid());
    }
    o = o.s("eventID", &rng.uuid()).b("readOnly", c.read_only);
    if let Some(r) = &c.resources {
        o = o.raw("resources", r);
    }
    o = o.s("eventType", c.event_type).b("managementEvent", !c.data_event);
    o = o.s("recipientAccountId", actor.account);
    if c.shared_event_id {
        o = o.s("sharedEventID", &rng.uuid());
    }
    o = o.s("eventCategory", if c.data_event { "Data" } else { "Management" });
    if !c.console && !matches!(actor.who, Who::Service(_)) {
        let host = c.source.replace(".amazonaws.com", &format!(".{region}.amazonaws.com"));
        let tls = Obj::new()
            .s("tlsVersion", "TLSv1.3")
            .s("cipherSuite", "TLS_AES_128_GCM_SHA256")
            .s("clientProvidedHostHeader", &host)
            .end();
        o = o.raw("tlsDetails", &tls);
    }
    if matches!(actor.who, Who::Role { sso: true, .. }) && !c.console {
        o = o.s("sessionCredentialFromConsole", "true");
    }
    o.end()
}

fn access_denied(rng: &mut Rng, actor: &Actor, c: &mut Call) {
    let svc = c.source.trim_end_matches(".amazonaws.com").replace("monitoring", "cloudwatch");
    let code = match c.source {
        "ec2.amazonaws.com" => "Client.UnauthorizedOperation",
        "s3.amazonaws.com" | "iam.amazonaws.com" | "sts.amazonaws.com" | "signin.amazonaws.com" => "AccessDenied",
        _ => "AccessDeniedException",
    };
    let resource = if rng.chance(0.5) {
        format!(" on resource: arn:aws:{svc}:us-east-1:{}:*", actor.account)
    } else {
        String::new()
    };
    let message = format!(
        "User: {} is not authorized to perform: {svc}:{}{resource} because no identity-based policy allows the {svc}:{} action",
        actor_arn(actor),
        c.name,
        c.name
    );
    c.error_code = Some(code.into());
    c.error_message = Some(message);
    c.response = "null".into();
}

// ---------------------------------------------------------------------------------------
// Background traffic.

struct Service {
    weight: u32,
    source: &'static str,
    reads: &'static [&'static str],
}

const READS: &[Service] = &[
    Service {
        weight: 14,
        source: "ec2.amazonaws.com",
        reads: &[
            "DescribeInstances",
            "DescribeSecurityGroups",
            "DescribeVolumes",
            "DescribeSubnets",
            "DescribeVpcs",
            "DescribeNetworkInterfaces",
            "DescribeImages",
            "DescribeInstanceStatus",
            "DescribeSnapshots",
            "DescribeRouteTables",
            "DescribeAddresses",
            "DescribeTags",
            "DescribeLaunchTemplateVersions",
        ],
    },
    Service {
        weight: 12,
        source: "s3.amazonaws.com",
        reads: &[
            "GetBucketAcl",
            "GetBucketPolicy",
            "GetBucketLocation",
            "ListBuckets",
            "GetBucketVersioning",
            "GetBucketEncryption",
            "GetObject",
            "HeadObject",
            "ListObjects",
            "GetBucketTagging",
            "GetBucketPublicAccessBlock",
            "GetObject",
            "GetObject",
        ],
    },
    Service {
        weight: 9,
        source: "iam.amazonaws.com",
        reads: &[
            "GetUser",
            "GetRole",
            "ListRoles",
            "ListPolicies",
            "GetPolicy",
            "GetPolicyVersion",
            "ListAttachedRolePolicies",
            "ListRolePolicies",
            "GetRolePolicy",
            "ListUsers",
            "ListAccessKeys",
            "GetAccountSummary",
            "ListMFADevices",
            "GetAccountAuthorizationDetails",
            "ListGroupsForUser",
            "GenerateCredentialReport",
            "GetCredentialReport",
            "ListInstanceProfilesForRole",
        ],
    },
    Service {
        weight: 4,
        source: "sts.amazonaws.com",
        reads: &["GetCallerIdentity", "GetCallerIdentity", "GetSessionToken", "DecodeAuthorizationMessage"],
    },
    Service {
        weight: 5,
        source: "lambda.amazonaws.com",
        reads: &[
            "ListFunctions20150331",
            "GetFunction20150331v2",
            "GetPolicy20150331v2",
            "ListEventSourceMappings20150331",
            "GetFunctionConfiguration20150331v2",
            "ListTags20170331",
        ],
    },
    Service {
        weight: 3,
        source: "rds.amazonaws.com",
        reads: &[
            "DescribeDBInstances",
            "DescribeDBClusters",
            "DescribeDBSnapshots",
            "DescribeDBParameterGroups",
            "DescribeEvents",
        ],
    },
    Service {
        weight: 5,
        source: "monitoring.amazonaws.com",
        reads: &["DescribeAlarms", "GetMetricData", "ListMetrics", "GetMetricStatistics", "DescribeAlarmHistory"],
    },
    Service {
        weight: 6,
        source: "logs.amazonaws.com",
        reads: &[
            "DescribeLogGroups",
            "DescribeLogStreams",
            "FilterLogEvents",
            "GetLogEvents",
            "DescribeMetricFilters",
            "GetQueryResults",
            "DescribeSubscriptionFilters",
        ],
    },
    Service {
        weight: 5,
        source: "ecs.amazonaws.com",
        reads: &[
            "DescribeClusters",
            "ListTasks",
            "DescribeTasks",
            "DescribeServices",
            "ListServices",
            "DescribeTaskDefinition",
            "ListContainerInstances",
            "DescribeContainerInstances",
        ],
    },
    Service {
        weight: 4,
        source: "dynamodb.amazonaws.com",
        reads: &[
            "DescribeTable",
            "ListTables",
            "DescribeContinuousBackups",
            "DescribeTimeToLive",
            "ListTagsOfResource",
        ],
    },
    Service {
        weight: 3,
        source: "cloudformation.amazonaws.com",
        reads: &[
            "DescribeStacks",
            "ListStacks",
            "DescribeStackEvents",
            "GetTemplate",
            "DescribeStackResources",
            "ListStackResources",
        ],
    },
    Service {
        weight: 5,
        source: "ssm.amazonaws.com",
        reads: &[
            "GetParameter",
            "GetParameters",
            "DescribeInstanceInformation",
            "GetParametersByPath",
            "ListAssociations",
            "DescribeParameters",
            "ListInstanceAssociations",
        ],
    },
    Service {
        weight: 3,
        source: "kms.amazonaws.com",
        reads: &[
            "ListKeys",
            "DescribeKey",
            "ListAliases",
            "GetKeyPolicy",
            "GetKeyRotationStatus",
            "ListGrants",
            "ListResourceTags",
        ],
    },
    Service {
        weight: 2,
        source: "organizations.amazonaws.com",
        reads: &[
            "DescribeOrganization",
            "ListAccounts",
            "ListPolicies",
            "DescribeAccount",
            "ListRoots",
            "ListOrganizationalUnitsForParent",
        ],
    },
    Service {
        weight: 3,
        source: "sso.amazonaws.com",
        reads: &[
            "ListPermissionSets",
            "DescribePermissionSet",
            "ListAccountAssignments",
            "ListInstances",
            "ListManagedPoliciesInPermissionSet",
            "GetInlinePolicyForPermissionSet",
            "DescribeAccountAssignmentCreationStatus",
            "ListApplications",
            "ListPermissionSetsProvisionedToAccount",
        ],
    },
    Service {
        weight: 2,
        source: "config.amazonaws.com",
        reads: &[
            "DescribeConfigRules",
            "DescribeConfigurationRecorders",
            "GetComplianceDetailsByConfigRule",
            "DescribeConfigRuleEvaluationStatus",
            "DescribeDeliveryChannels",
        ],
    },
    Service {
        weight: 3,
        source: "elasticloadbalancing.amazonaws.com",
        reads: &[
            "DescribeLoadBalancers",
            "DescribeTargetGroups",
            "DescribeTargetHealth",
            "DescribeListeners",
            "DescribeRules",
        ],
    },
    Service {
        weight: 2,
        source: "autoscaling.amazonaws.com",
        reads: &[
            "DescribeAutoScalingGroups",
            "DescribeLaunchConfigurations",
            "DescribeScalingActivities",
            "DescribeLifecycleHooks",
        ],
    },
    Service {
        weight: 2,
        source: "route53.amazonaws.com",
        reads: &["ListHostedZones", "ListResourceRecordSets", "GetHostedZone", "GetChange"],
    },
    Service {
        weight: 3,
        source: "secretsmanager.amazonaws.com",
        reads: &["GetSecretValue", "DescribeSecret", "ListSecrets"],
    },
    Service {
        weight: 3,
        source: "ecr.amazonaws.com",
        reads: &[
            "GetAuthorizationToken",
            "DescribeRepositories",
            "BatchGetImage",
            "GetDownloadUrlForLayer",
            "DescribeImages",
            "BatchCheckLayerAvailability",
        ],
    },
    Service {
        weight: 2,
        source: "eks.amazonaws.com",
        reads: &["DescribeCluster", "ListClusters", "ListNodegroups", "DescribeNodegroup", "DescribeAddon"],
    },
    Service {
        weight: 1,
        source: "cloudtrail.amazonaws.com",
        reads: &["DescribeTrails", "GetTrailStatus", "LookupEvents", "GetEventSelectors"],
    },
    Service {
        weight: 1,
        source: "guardduty.amazonaws.com",
        reads: &["ListDetectors", "GetFindings", "ListFindings", "GetDetector"],
    },
    Service {
        weight: 1,
        source: "securityhub.amazonaws.com",
        reads: &["GetFindings", "DescribeHub", "GetEnabledStandards"],
    },
    Service {
        weight: 1,
        source: "elasticfilesystem.amazonaws.com",
        reads: &["DescribeFileSystems", "DescribeMountTargets", "DescribeAccessPoints"],
    },
    Service {
        weight: 1,
        source: "athena.amazonaws.com",
        reads: &["GetQueryExecution", "GetWorkGroup", "ListWorkGroups", "GetQueryResults"],
    },
    Service {
        weight: 2,
        source: "glue.amazonaws.com",
        reads: &["GetTables", "GetDatabases", "GetTable", "GetPartitions", "GetJobRuns"],
    },
    Service {
        weight: 1,
        source: "access-analyzer.amazonaws.com",
        reads: &["ListAnalyzers", "ListFindings", "GetAnalyzer"],
    },
    Service {
        weight: 1,
        source: "identitystore.amazonaws.com",
        reads: &["DescribeUser", "ListUsers", "ListGroupMemberships", "DescribeGroup", "ListGroups"],
    },
    Service { weight: 1, source: "health.amazonaws.com", reads: &["DescribeEvents", "DescribeEventAggregates"] },
];

fn pick_service(rng: &mut Rng) -> &'static Service {
    let total: u32 = READS.iter().map(|s| s.weight).sum();
    let mut r = rng.below(total as usize) as u32;
    for s in READS {
        if r < s.weight {
            return s;
        }
        r -= s.weight;
    }
    &READS[0]
}

fn s3_extras(rng: &mut Rng, bucket: &str, key: Option<&str>, account: &str, out_bytes: u64) -> (String, String) {
    let additional = Obj::new()
        .s("SignatureVersion", "SigV4")
        .s("CipherSuite", "TLS_AES_128_GCM_SHA256")
        .n("bytesTransferredIn", 0)
        .s("AuthenticationMethod", "AuthHeader")
        .s("x-amz-id-2", &format!("{}=", rng.b64(75)))
        .n("bytesTransferredOut", out_bytes)
        .end();
    let mut res = Vec::new();
    if let Some(k) = key {
        res.push(Obj::new().s("type", "AWS::S3::Object").s("ARN", &format!("arn:aws:s3:::{bucket}/{k}")).end());
    }
    res.push(
        Obj::new()
            .s("accountId", account)
            .s("type", "AWS::S3::Bucket")
            .s("ARN", &format!("arn:aws:s3:::{bucket}"))
            .end(),
    );
    (additional, arr(&res))
}

fn read_call(rng: &mut Rng, actor: &Actor) -> Call {
    let svc = pick_service(rng);
    let name = rng.pick(svc.reads);
    let acct = actor.account;
    let mut c = match svc.source {
        "ec2.amazonaws.com" => {
            let req = if rng.chance(0.5) {
                let items = (0..1 + rng.below(3))
                    .map(|_| Obj::new().s("instanceId", &format!("i-0{}", rng.hex(16))).end())
                    .collect::<Vec<_>>();
                Obj::new()
                    .raw("instancesSet", &Obj::new().raw("items", &arr(&items)).end())
                    .raw("filterSet", "{}")
                    .end()
            } else {
                let filter = Obj::new()
                    .s("name", "tag:Environment")
                    .raw("valueSet", &Obj::new().raw("items", &arr(&[Obj::new().s("value", "prod").end()])).end())
                    .end();
                Obj::new().n("maxResults", 1000).raw("filterSet", &Obj::new().raw("items", &arr(&[filter])).end()).end()
            };
            Call::new(svc.source, name, req)
        }
        "s3.amazonaws.com" => {
            let bucket = rng.pick(BUCKETS);
            let host = format!("{bucket}.s3.us-east-1.amazonaws.com");
            if name == "ListBuckets" {
                Call::new(svc.source, name, Obj::new().s("Host", "s3.us-east-1.amazonaws.com").end())
            } else if matches!(name, "GetObject" | "HeadObject") {
                let key =
                    format!("year=2026/month=03/day={:02}/part-{}.snappy.parquet", 1 + rng.below(28), rng.hex(20));
                let mut c = Call::new(
                    svc.source,
                    name,
                    Obj::new().s("bucketName", bucket).s("Host", &host).s("key", &key).end(),
                );
                let out_bytes = 10_000 + rng.below(5_000_000) as u64;
                let (a, r) = s3_extras(rng, bucket, Some(&key), acct, out_bytes);
                c.additional = Some(a);
                c.resources = Some(r);
                c.data_event = true;
                c
            } else {
                let sub = name.trim_start_matches("GetBucket").to_ascii_lowercase();
                let mut c =
                    Call::new(svc.source, name, Obj::new().s("bucketName", bucket).s("Host", &host).s(&sub, "").end());
                let (a, r) = s3_extras(rng, bucket, None, acct, 0);
                c.additional = Some(a);
                c.resources = Some(r);
                c
            }
        }
        "iam.amazonaws.com" => {
            let req = if name.starts_with("List") && !name.contains("For") && !name.contains("Role") {
                Obj::new().n("maxItems", 1000).end()
            } else if name.contains("Polic") && name.contains("Version") {
                Obj::new()
                    .s("policyArn", &format!("arn:aws:iam::{acct}:policy/{}-access", rng.pick(ROLES)))
                    .s("versionId", &format!("v{}", 1 + rng.below(5)))
                    .end()
            } else if name.contains("User") || name.contains("AccessKeys") || name.contains("MFA") {
                Obj::new().s("userName", rng.pick(USERS)).end()
            } else if name.contains("Role") {
                Obj::new().s("roleName", rng.pick(ROLES)).end()
            } else {
                "null".into()
            };
            Call::new(svc.source, name, req)
        }
        "sso.amazonaws.com" => {
            let inst = "arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6";
            let ps = format!("arn:aws:sso:::permissionSet/ssoins-7223a1b2c3d4e5f6/ps-{}", rng.hex(16));
            Call::new(
                svc.source,
                name,
                Obj::new().s("instanceArn", inst).s("permissionSetArn", &ps).n("maxResults", 100).end(),
            )
        }
        _ => {
            let res = format!("{}-{}", rng.pick(ROLES), rng.hex(6));
            let req = match rng.below(4) {
                0 => "null".to_string(),
                1 => Obj::new().n("maxResults", 50).end(),
                2 => Obj::new().s("name", &res).end(),
                _ => Obj::new()
                    .s(
                        "resourceArn",
                        &format!("arn:aws:{}:us-east-1:{acct}:{}", svc.source.trim_end_matches(".amazonaws.com"), res),
                    )
                    .raw("include", "[\"TAGS\"]")
                    .end(),
            };
            Call::new(svc.source, name, req)
        }
    };
    c.read_only = true;
    c
}

fn write_call(rng: &mut Rng, actor: &Actor) -> Call {
    let acct = actor.account;
    match rng.below(14) {
        0 | 1 => {
            let bucket = rng.pick(BUCKETS);
            let key = format!("logs/2026/03/{:02}/{}.json.gz", 1 + rng.below(28), rng.uuid());
            let host = format!("{bucket}.s3.us-east-1.amazonaws.com");
            let mut c = Call::new(
                "s3.amazonaws.com",
                "PutObject",
                Obj::new().s("bucketName", bucket).s("Host", &host).s("key", &key).end(),
            );
            let (a, r) = s3_extras(rng, bucket, Some(&key), acct, 0);
            c.additional = Some(a);
            c.resources = Some(r);
            c.response = Obj::new().s("x-amz-server-side-encryption", "aws:kms").end();
            c.data_event = true;
            c
        }
        2 | 3 => Call::new(
            "logs.amazonaws.com",
            "CreateLogStream",
            Obj::new()
                .s("logGroupName", &format!("/aws/lambda/{}", rng.pick(ROLES)))
                .s("logStreamName", &format!("2026/03/01/[$LATEST]{}", rng.hex(32)))
                .end(),
        ),
        4 => {
            let mut c = Call::new(
                "ssm.amazonaws.com",
                "UpdateInstanceInformation",
                Obj::new()
                    .s("instanceId", &format!("i-0{}", rng.hex(16)))
                    .s("agentVersion", "3.3.40.0")
                    .s("agentStatus", "Active")
                    .s("platformType", "Linux")
                    .s("platformName", "Amazon Linux")
                    .s("platformVersion", "2023")
                    .s("iPAddress", "10.0.14.201")
                    .s("computerName", "ip-10-0-14-201.ec2.internal")
                    .s("agentName", "amazon-ssm-agent")
                    .s("availabilityZone", "us-east-1a")
                    .s("availabilityZoneId", "use1-az4")
                    .end(),
            );
            c.response = "null".into();
            c
        }
        5 => {
            let tags = arr(&[
                Obj::new().s("key", "Environment").s("value", "prod").end(),
                Obj::new().s("key", "Owner").s("value", "platform").end(),
            ]);
            let item = Obj::new()
                .s("resourceType", "instance")
                .raw("tags", &arr(&[Obj::new().raw("items", &tags).end()]))
                .end();
            let ec2 = Obj::new()
                .raw(
                    "instancesSet",
                    &Obj::new()
                        .raw(
                            "items",
                            &arr(&[Obj::new()
                                .s("imageId", &format!("ami-0{}", rng.hex(16)))
                                .n("minCount", 1)
                                .n("maxCount", 1)
                                .end()]),
                        )
                        .end(),
                )
                .s("instanceType", "m6i.large")
                .raw("blockDeviceMapping", "{}")
                .raw("monitoring", "{\"enabled\":false}")
                .s("subnetId", &format!("subnet-0{}", rng.hex(16)))
                .b("disableApiTermination", false)
                .b("disableApiStop", false)
                .s("clientToken", &rng.uuid())
                .raw("tagSpecificationSet", &Obj::new().raw("items", &arr(&[item])).end())
                .end();
            let mut c = Call::new("ec2.amazonaws.com", "RunInstances", ec2);
            c.response = Obj::new()
                .s("requestId", &rng.uuid())
                .s("reservationId", &format!("r-0{}", rng.hex(16)))
                .s("ownerId", acct)
                .raw("groupSet", "{}")
                .raw(
                    "instancesSet",
                    &Obj::new()
                        .raw(
                            "items",
                            &arr(&[Obj::new()
                                .s("instanceId", &format!("i-0{}", rng.hex(16)))
                                .s("currentInstanceBootMode", "uefi")
                                .end()]),
                        )
                        .end(),
                )
                .end();
            c
        }
        6 => {
            let ids = arr(&[Obj::new().s("instanceId", &format!("i-0{}", rng.hex(16))).end()]);
            let name = rng.pick(&["StartInstances", "StopInstances", "CreateTags", "ModifyInstanceAttribute"]);
            Call::new(
                "ec2.amazonaws.com",
                name,
                Obj::new().raw("instancesSet", &Obj::new().raw("items", &ids).end()).b("force", false).end(),
            )
        }
        7 => Call::new(
            "monitoring.amazonaws.com",
            "PutMetricAlarm",
            Obj::new()
                .s("alarmName", &format!("{}-errors", rng.pick(ROLES)))
                .s("metricName", "Errors")
                .s("namespace", "AWS/Lambda")
                .s("statistic", "Sum")
                .n("period", 300)
                .n("evaluationPeriods", 1)
                .raw("threshold", "1.0")
                .s("comparisonOperator", "GreaterThanOrEqualToThreshold")
                .end(),
        ),
        8 => {
            let name = rng.pick(&["PutParameter", "DeleteParameter", "AddTagsToResource"]);
            Call::new(
                "ssm.amazonaws.com",
                name,
                Obj::new()
                    .s("name", &format!("/app/{}/config", rng.pick(ROLES)))
                    .s("type", "SecureString")
                    .b("overwrite", true)
                    .end(),
            )
        }
        9 => {
            // IAM writes nobody subscribes to.
            let name = rng.pick(&[
                "CreatePolicy",
                "CreatePolicyVersion",
                "TagRole",
                "DetachRolePolicy",
                "DeleteAccessKey",
                "CreateLoginProfile",
                "AddUserToGroup",
                "CreateServiceLinkedRole",
                "DeleteRolePolicy",
                "UpdateLoginProfile",
                "CreateInstanceProfile",
                "AddRoleToInstanceProfile",
            ]);
            Call::new(
                "iam.amazonaws.com",
                name,
                Obj::new()
                    .s("roleName", rng.pick(ROLES))
                    .s("policyArn", &format!("arn:aws:iam::{acct}:policy/{}-access", rng.pick(ROLES)))
                    .end(),
            )
        }
        10 => {
            let name = rng.pick(&[
                "ProvisionPermissionSet",
                "DeletePermissionSet",
                "PutInlinePolicyToPermissionSet",
                "DetachManagedPolicyFromPermissionSet",
                "DeleteAccountAssignment",
                "TagResource",
            ]);
            Call::new(
                "sso.amazonaws.com",
                name,
                Obj::new()
                    .s("instanceArn", "arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6")
                    .s(
                        "permissionSetArn",
                        &format!("arn:aws:sso:::permissionSet/ssoins-7223a1b2c3d4e5f6/ps-{}", rng.hex(16)),
                    )
                    .s("targetType", "ALL_PROVISIONED_ACCOUNTS")
                    .end(),
            )
        }
        11 => Call::new(
            "lambda.amazonaws.com",
            "UpdateFunctionConfiguration20150331v2",
            Obj::new()
                .s("functionName", &format!("arn:aws:lambda:us-east-1:{acct}:function:{}", rng.pick(ROLES)))
                .n("timeout", 30)
                .n("memorySize", 512)
                .raw("environment", "{}")
                .end(),
        ),
        12 => Call::new(
            "cloudformation.amazonaws.com",
            "UpdateStack",
            Obj::new()
                .s("stackName", &format!("{}-stack", rng.pick(ROLES)))
                .b("usePreviousTemplate", true)
                .raw("capabilities", "[\"CAPABILITY_NAMED_IAM\"]")
                .raw("parameters", &arr(&[Obj::new().s("parameterKey", "Env").s("parameterValue", "prod").end()]))
                .end(),
        ),
        _ => Call::new(
            "dynamodb.amazonaws.com",
            rng.pick(&["UpdateTable", "UpdateTimeToLive", "TagResource"]),
            Obj::new().s("tableName", &format!("{}-table", rng.pick(ROLES))).end(),
        ),
    }
}

fn assume_role_call(rng: &mut Rng, actor: &Actor) -> Call {
    let target_acct = rng.weighted(ACCOUNTS);
    let role = rng.pick(ROLES);
    let session = match &actor.who {
        Who::Service(s) => format!("{}-{}", s.trim_end_matches(".amazonaws.com"), rng.hex(8)),
        Who::User(u) => u.clone(),
        _ => format!("botocore-session-{}", 1_709_251_200 + rng.below(900_000)),
    };
    let name = match rng.below(20) {
        0 => "AssumeRoleWithSAML",
        1 | 2 => "AssumeRoleWithWebIdentity",
        _ => "AssumeRole",
    };
    let role_arn = format!("arn:aws:iam::{target_acct}:role/{role}");
    let mut req = Obj::new().s("roleArn", &role_arn).s("roleSessionName", &session);
    if name == "AssumeRoleWithWebIdentity" {
        req = req.s("providerId", "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com");
    }
    let req = req.n("durationSeconds", 3600).end();
    let role_id = format!("AROA{}", rng.upper(17));
    let token_len = 300 + rng.below(300);
    let creds = Obj::new()
        .s("accessKeyId", &format!("ASIA{}", rng.upper(16)))
        .s("sessionToken", &format!("IQoJb3JpZ2luX2Vj{}", rng.b64(token_len)))
        .s("expiration", &format!("Mar 1, 2026, {}:{:02}:{:02} PM", 1 + rng.below(12), rng.below(60), rng.below(60)))
        .end();
    let resp = Obj::new()
        .raw("credentials", &creds)
        .raw(
            "assumedRoleUser",
            &Obj::new()
                .s("assumedRoleId", &format!("{role_id}:{session}"))
                .s("arn", &format!("arn:aws:sts::{target_acct}:assumed-role/{role}/{session}"))
                .end(),
        )
        .end();
    let mut c = Call::new("sts.amazonaws.com", name, req);
    c.response = resp;
    c.read_only = true;
    c.resources =
        Some(arr(&[Obj::new().s("accountId", target_acct).s("type", "AWS::IAM::Role").s("ARN", &role_arn).end()]));
    c.shared_event_id = target_acct != actor.account;
    c
}

fn kms_call(rng: &mut Rng, actor: &Actor) -> Call {
    let acct = actor.account;
    let key = format!("arn:aws:kms:us-east-1:{acct}:key/{}", rng.uuid());
    let ctx = match rng.below(3) {
        0 => Obj::new()
            .s("aws:lambda:FunctionArn", &format!("arn:aws:lambda:us-east-1:{acct}:function:{}", rng.pick(ROLES)))
            .end(),
        1 => Obj::new().s("aws:s3:arn", &format!("arn:aws:s3:::{}/{}", rng.pick(BUCKETS), rng.hex(24))).end(),
        _ => Obj::new()
            .s("SecretARN", &format!("arn:aws:secretsmanager:us-east-1:{acct}:secret:prod/db-{}", rng.hex(6)))
            .s("SecretVersionId", &rng.uuid())
            .end(),
    };
    let (name, req) = if rng.chance(0.75) {
        ("Decrypt", Obj::new().raw("encryptionContext", &ctx).s("encryptionAlgorithm", "SYMMETRIC_DEFAULT").end())
    } else {
        ("GenerateDataKey", Obj::new().s("keyId", &key).raw("encryptionContext", &ctx).s("keySpec", "AES_256").end())
    };
    let mut c = Call::new("kms.amazonaws.com", name, req);
    c.read_only = true;
    c.resources = Some(arr(&[Obj::new().s("accountId", acct).s("type", "AWS::KMS::Key").s("ARN", &key).end()]));
    c
}

fn console_call(rng: &mut Rng, failed: bool) -> Call {
    let mut c = Call::new("signin.amazonaws.com", "ConsoleLogin", "null".into());
    c.console = true;
    c.event_type = "AwsConsoleSignIn";
    c.response = Obj::new().s("ConsoleLogin", if failed { "Failure" } else { "Success" }).end();
    c.additional = Some(
        Obj::new()
            .s("LoginTo", "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_c63f6bd4b1f5e8a2")
            .s("MobileVersion", "No")
            .s("MFAIdentifier", &format!("arn:aws:iam::{HOME}:mfa/{}", rng.pick(USERS)))
            .s("MFAUsed", if rng.chance(0.9) { "Yes" } else { "No" })
            .end(),
    );
    if failed {
        // A failed sign-in records errorMessage only, no errorCode.
        c.error_message = Some("Failed authentication".into());
    }
    c
}

// ---------------------------------------------------------------------------------------
// The subscribed calls.

fn policy_doc(statements: &[String]) -> String {
    format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}", statements.join(","))
}

fn stmt(effect: &str, action: &str, resource: &str) -> String {
    format!("{{\"Effect\":\"{effect}\",\"Action\":{action},\"Resource\":\"{resource}\"}}")
}

fn trust(principal: &str) -> String {
    policy_doc(&[format!("{{\"Effect\":\"Allow\",\"Principal\":{principal},\"Action\":\"sts:AssumeRole\"}}")])
}

fn maybe_url(rng: &mut Rng, doc: String) -> String {
    if rng.chance(0.2) {
        url_encode(&doc)
    } else {
        doc
    }
}

/// One subscribed call; `hot` asks for the alerting variant when there is a benign one.
fn subscribed_call(rng: &mut Rng, actor: &Actor, which: usize, hot: bool) -> Call {
    let acct = actor.account;
    let user = rng.pick(USERS);
    let role = rng.pick(ROLES);
    let sso_inst = "arn:aws:sso:::instance/ssoins-7223a1b2c3d4e5f6";
    let ps_arn = format!("arn:aws:sso:::permissionSet/ssoins-7223a1b2c3d4e5f6/ps-{}", rng.hex(16));
    match which {
        0 => Call::new(
            "iam.amazonaws.com",
            "CreateUser",
            Obj::new().s("userName", &format!("{user}-{}", rng.hex(4))).s("path", "/").end(),
        ),
        1 => {
            let mut c = Call::new("iam.amazonaws.com", "CreateAccessKey", Obj::new().s("userName", user).end());
            c.response = Obj::new()
                .raw(
                    "accessKey",
                    &Obj::new()
                        .s("accessKeyId", &format!("AKIA{}", rng.upper(16)))
                        .s("status", "Active")
                        .s("userName", user)
                        .s("createDate", "Mar 1, 2026, 10:14:31 AM")
                        .end(),
                )
                .end();
            c
        }
        2 => {
            let (name, field) = rng.pick(&[
                ("AttachUserPolicy", "userName"),
                ("AttachRolePolicy", "roleName"),
                ("AttachGroupPolicy", "groupName"),
            ]);
            let policy = if hot {
                rng.pick(&["AdministratorAccess", "PowerUserAccess", "IAMFullAccess"])
            } else {
                rng.pick(&[
                    "ReadOnlyAccess",
                    "AmazonS3ReadOnlyAccess",
                    "CloudWatchLogsFullAccess",
                    "AmazonSSMManagedInstanceCore",
                ])
            };
            Call::new(
                "iam.amazonaws.com",
                name,
                Obj::new()
                    .s(field, if field == "roleName" { role } else { user })
                    .s("policyArn", &format!("arn:aws:iam::aws:policy/{policy}"))
                    .end(),
            )
        }
        3 => {
            let (name, field) = rng.pick(&[
                ("PutUserPolicy", "userName"),
                ("PutRolePolicy", "roleName"),
                ("PutGroupPolicy", "groupName"),
            ]);
            let doc = if hot {
                policy_doc(&[stmt("Allow", rng.pick(&["\"*\"", "\"iam:*\"", "[\"sts:*\",\"s3:GetObject\"]"]), "*")])
            } else {
                policy_doc(&[
                    stmt(
                        "Allow",
                        "[\"s3:GetObject\",\"s3:PutObject\"]",
                        &format!("arn:aws:s3:::{}/*", rng.pick(BUCKETS)),
                    ),
                    stmt("Allow", "\"kms:Decrypt\"", "*"),
                ])
            };
            let doc = maybe_url(rng, doc);
            Call::new(
                "iam.amazonaws.com",
                name,
                Obj::new()
                    .s(field, if field == "roleName" { role } else { user })
                    .s("policyName", &format!("{role}-inline"))
                    .s("policyDocument", &doc)
                    .end(),
            )
        }
        4 | 5 => {
            let principal = if hot {
                if rng.chance(0.3) {
                    "{\"AWS\":\"*\"}".to_string()
                } else {
                    format!("{{\"AWS\":\"arn:aws:iam::{EXTERNAL}:root\"}}")
                }
            } else if rng.chance(0.6) {
                "{\"Service\":\"lambda.amazonaws.com\"}".to_string()
            } else {
                format!("{{\"AWS\":\"arn:aws:iam::{acct}:role/ci-deploy\"}}")
            };
            let doc = maybe_url(rng, trust(&principal));
            let new_role = format!("{role}-{}", rng.hex(4));
            if which == 4 {
                let mut c = Call::new(
                    "iam.amazonaws.com",
                    "CreateRole",
                    Obj::new()
                        .s("roleName", &new_role)
                        .s("assumeRolePolicyDocument", &doc)
                        .s("description", "managed by terraform")
                        .n("maxSessionDuration", 3600)
                        .end(),
                );
                c.response = Obj::new()
                    .raw(
                        "role",
                        &Obj::new()
                            .s("path", "/")
                            .s("roleName", &new_role)
                            .s("roleId", &format!("AROA{}", rng.upper(17)))
                            .s("arn", &format!("arn:aws:iam::{acct}:role/{new_role}"))
                            .s("createDate", "Mar 1, 2026, 10:14:31 AM")
                            .s("assumeRolePolicyDocument", &url_encode(&trust(&principal)))
                            .end(),
                    )
                    .end();
                c
            } else {
                Call::new(
                    "iam.amazonaws.com",
                    "UpdateAssumeRolePolicy",
                    Obj::new().s("roleName", role).s("policyDocument", &doc).end(),
                )
            }
        }
        6 => Call::new(
            "iam.amazonaws.com",
            "UpdateAccessKey",
            Obj::new()
                .s("userName", user)
                .s("accessKeyId", &format!("AKIA{}", rng.upper(16)))
                .s("status", rng.pick(&["Inactive", "Active"]))
                .end(),
        ),
        7 => {
            let serial = format!("arn:aws:iam::{acct}:mfa/{user}");
            if rng.chance(0.5) {
                Call::new(
                    "iam.amazonaws.com",
                    "DeactivateMFADevice",
                    Obj::new().s("userName", user).s("serialNumber", &serial).end(),
                )
            } else {
                Call::new("iam.amazonaws.com", "DeleteVirtualMFADevice", Obj::new().s("serialNumber", &serial).end())
            }
        }
        8 => {
            let name =
                format!("{}-{}", rng.pick(&["DataScientist", "ReadOnlyAudit", "BreakGlass", "Developer"]), rng.hex(4));
            let mut c = Call::new(
                "sso.amazonaws.com",
                "CreatePermissionSet",
                Obj::new()
                    .s("instanceArn", sso_inst)
                    .s("name", &name)
                    .s("description", "created by terraform")
                    .s("sessionDuration", "PT8H")
                    .end(),
            );
            c.response = Obj::new()
                .raw(
                    "permissionSet",
                    &Obj::new()
                        .s("name", &name)
                        .s("permissionSetArn", &ps_arn)
                        .s("description", "created by terraform")
                        .s("createdDate", "Mar 1, 2026, 10:14:31 AM")
                        .s("sessionDuration", "PT8H")
                        .end(),
                )
                .end();
            c
        }
        9 => Call::new(
            "sso.amazonaws.com",
            "UpdatePermissionSet",
            Obj::new()
                .s("instanceArn", sso_inst)
                .s("permissionSetArn", &ps_arn)
                .s("sessionDuration", "PT12H")
                .s("description", "extended session")
                .end(),
        ),
        10 => {
            let policy = if hot {
                rng.pick(&["AdministratorAccess", "PowerUserAccess"])
            } else {
                rng.pick(&["ReadOnlyAccess", "AmazonEC2FullAccess", "ViewOnlyAccess"])
            };
            Call::new(
                "sso.amazonaws.com",
                "AttachManagedPolicyToPermissionSet",
                Obj::new()
                    .s("instanceArn", sso_inst)
                    .s("permissionSetArn", &ps_arn)
                    .s("managedPolicyArn", &format!("arn:aws:iam::aws:policy/{policy}"))
                    .end(),
            )
        }
        11 => {
            let mut c = Call::new(
                "sso.amazonaws.com",
                "CreateAccountAssignment",
                Obj::new()
                    .s("instanceArn", sso_inst)
                    .s("targetId", rng.weighted(ACCOUNTS))
                    .s("targetType", "AWS_ACCOUNT")
                    .s("permissionSetArn", &ps_arn)
                    .s("principalType", if rng.chance(0.5) { "USER" } else { "GROUP" })
                    .s("principalId", &rng.uuid())
                    .end(),
            );
            c.response = Obj::new()
                .raw(
                    "accountAssignmentCreationStatus",
                    &Obj::new()
                        .s("status", "IN_PROGRESS")
                        .s("requestId", &rng.uuid())
                        .s("createdDate", "Mar 1, 2026, 9:12:45 AM")
                        .end(),
                )
                .end();
            c
        }
        12 => {
            let app = format!("ins-{}", rng.hex(16));
            let mut c = Call::new(
                "sso.amazonaws.com",
                "CreateManagedApplicationInstance",
                Obj::new()
                    .s("name", &format!("grafana-{}", rng.hex(4)))
                    .s("templateId", "app-1a2b3c4d5e6f7a8b")
                    .s("instanceArn", sso_inst)
                    .end(),
            );
            c.response = Obj::new().s("managedApplicationInstanceId", &app).end();
            c
        }
        _ => Call::new(
            "sso.amazonaws.com",
            "DeleteManagedApplicationInstance",
            Obj::new()
                .s("managedApplicationInstanceId", &format!("ins-{}", rng.hex(16)))
                .s("clientId", &rng.hex(20))
                .end(),
        ),
    }
}

/// Generate the corpus.
pub fn generate(spec: &Spec) -> Corpus {
    let mut rng = Rng::new(spec.seed);
    let mut clock = Clock { secs: 0 };
    let mut mix: BTreeMap<&'static str, usize> = BTreeMap::new();
    let per_file = spec.per_file.max(1);
    let mut files = Vec::with_capacity(spec.events / per_file + 1);
    let mut current = String::new();
    let mut in_file = 0usize;
    let (mut bytes, mut min, mut max, mut errors) = (0usize, usize::MAX, 0usize, 0usize);
    for _ in 0..spec.events {
        let roll = rng.below(10_000);
        let (category, actor, mut call, may_fail) = match roll {
            0..=6299 => {
                let a = random_actor(&mut rng);
                let c = read_call(&mut rng, &a);
                ("read (Describe/Get/List)", a, c, true)
            }
            6300..=7449 => {
                let a = random_actor(&mut rng);
                let c = write_call(&mut rng, &a);
                ("write, unsubscribed", a, c, true)
            }
            7450..=8599 => {
                let mut a = random_actor(&mut rng);
                if matches!(a.who, Who::Root) {
                    a.who = Who::Service("ec2.amazonaws.com");
                }
                let c = assume_role_call(&mut rng, &a);
                ("sts AssumeRole*", a, c, true)
            }
            8600..=9499 => {
                let mut a = random_actor(&mut rng);
                if rng.chance(0.5) {
                    a.who = Who::Service(rng.pick(&[
                        "lambda.amazonaws.com",
                        "s3.amazonaws.com",
                        "secretsmanager.amazonaws.com",
                    ]));
                }
                let c = kms_call(&mut rng, &a);
                ("kms Decrypt/GenerateDataKey", a, c, false)
            }
            9500..=9699 => {
                let account = rng.weighted(ACCOUNTS);
                let who = if rng.chance(0.75) {
                    Who::User(rng.pick(USERS).to_string())
                } else {
                    Who::Role {
                        role: rng.pick(SSO_ROLES).to_string(),
                        session: rng.pick(EMAILS).to_string(),
                        sso: true,
                    }
                };
                let failed = rng.chance(0.08);
                let c = console_call(&mut rng, failed);
                ("signin ConsoleLogin (IAM user/SSO)", Actor { who, account }, c, false)
            }
            _ => {
                // ~3%: the calls the detectors subscribe to.
                let which = rng.below(15);
                if which == 14 {
                    let a = Actor { who: Who::Root, account: HOME };
                    let failed = rng.chance(0.2);
                    let c = console_call(&mut rng, failed);
                    ("subscribed: root ConsoleLogin", a, c, false)
                } else {
                    let a = human_actor(&mut rng);
                    let hot = rng.chance(0.5);
                    let c = subscribed_call(&mut rng, &a, which, hot);
                    ("subscribed: IAM/SSO change", a, c, true)
                }
            }
        };
        if may_fail && rng.chance(0.055) {
            access_denied(&mut rng, &actor, &mut call);
        }
        if call.error_code.is_some() {
            errors += 1;
        }
        let text = record(&mut rng, &mut clock, &actor, call);
        *mix.entry(category).or_default() += 1;
        bytes += text.len();
        min = min.min(text.len());
        max = max.max(text.len());
        if in_file == 0 {
            current.push_str("{\"Records\":[");
        } else {
            current.push(',');
        }
        current.push_str(&text);
        in_file += 1;
        if in_file == per_file {
            current.push_str("]}");
            files.push(std::mem::take(&mut current));
            in_file = 0;
        }
    }
    if in_file > 0 {
        current.push_str("]}");
        files.push(current);
    }
    Corpus {
        files,
        records: spec.events,
        record_bytes: bytes,
        min_record: if min == usize::MAX { 0 } else { min },
        max_record: max,
        mix,
        errors,
    }
}
