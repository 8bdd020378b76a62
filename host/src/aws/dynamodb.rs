//! The DynamoDB store: [`DynamoStore`] implements [`Store`] over the three tables of the
//! original design (`{stack}-events`, `{stack}-control`, `{stack}-alerts`), extended where the
//! original lost information. `docs/architecture.md` ("DynamoDB store") has the full layout.
//!
//! # Threads
//!
//! [`Store`] is synchronous and the collector calls it from a plain thread. The store owns a
//! private current-thread tokio runtime and `block_on`s every call there, so it must only be
//! used (and dropped) **outside** any async context: calling it from inside a tokio task
//! panics ("cannot start a runtime from within a runtime"). Inside one call, requests run
//! concurrently on that runtime (several BatchWriteItem / BatchGetItem chunks in flight).
//!
//! # Writes
//!
//! A commit checks which events exist with BatchGetItem (100 keys a call, key projection
//! only), then writes only the new ones with BatchWriteItem in chunks of 25. That is how it
//! reports `stored` vs `already_stored` without a call per event; reads of keys cost less than
//! rewriting items. Two writers racing on the same event may both see it missing and both
//! write it: the items are identical (same record, same key), so the only effect is that both
//! count it as stored. `UnprocessedItems`/`UnprocessedKeys` and throttling
//! (`ProvisionedThroughputExceededException`, `ThrottlingException`, `RequestLimitExceeded`,
//! HTTP 429) and transient failures (5xx, timeouts) are retried with exponential backoff and
//! full jitter until done or until the commit's deadline ([`DynamoOptions::commit_deadline`]);
//! then the commit fails with [`StoreError::Deadline`] and nothing after the events (alerts,
//! progress) is written. The SDK's own retries are off so that [`DynamoCounters`] counts
//! every call.
//!
//! # Order and crash safety
//!
//! Like every store: events, then the dates registry, then alerts (conditional puts), then the
//! task's counters, then the progress marker (checkpoint move or file marker). Each step is
//! idempotent, so a crash or an error at any point leaves at most events or alerts without
//! their progress, and re-committing the batch is harmless.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    KeysAndAttributes, Projection, ProjectionType, PutRequest, ScalarAttributeType, Select, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::store::{
    AlertRecord, Batch, Checkpoint, CommitReport, EventQuery, EventType, Progress, Store, StoreError, StoredEvent,
    TaskKey,
};
use crate::timefmt;
use crate::Severity;

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// The events table's name for `--store dynamodb` (the Lambda's variable).
pub const EVENTS_TABLE_ENV: &str = "EVENTS_TABLE_NAME";
/// The control (checkpoint) table's name for `--store dynamodb`.
pub const CONTROL_TABLE_ENV: &str = "CONTROL_TABLE_NAME";
/// The alerts table's name for `--store dynamodb`.
pub const ALERTS_TABLE_ENV: &str = "ALERTS_TABLE_NAME";
/// Days after an event's time when its item expires (the events table's `ttl`); unset or
/// `0` keeps events forever.
pub const EVENT_RETENTION_ENV: &str = "EVENT_RETENTION_DAYS";

/// Events by user: hash `user_name`, range `event_date` (projection ALL).
pub const USER_NAME_INDEX: &str = "user_name-index";
/// Events by API call: hash `event_name`, range `event_date` (projection ALL).
pub const EVENT_NAME_INDEX: &str = "event_name-index";
/// File markers by task (sparse): hash `file_task`, range `region` (projection ALL).
pub const FILES_INDEX: &str = "file_task-index";
/// Pending alerts (sparse: `pending` exists only until delivery): hash `pending`, range
/// `created_at`.
pub const PENDING_INDEX: &str = "pending-index";
/// Every alert by creation time: hash `alert_kind` (always `alert`), range `created_at`.
pub const CREATED_INDEX: &str = "created_at-index";

/// DynamoDB's item size limit.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// What an event item may take: the limit less a margin for the size estimate.
const ITEM_BUDGET: usize = MAX_ITEM_BYTES - 2048;
/// BatchWriteItem's limit.
pub const WRITE_CHUNK: usize = 25;
/// BatchGetItem's limit.
pub const GET_CHUNK: usize = 100;

/// The longest date range [`DynamoStore::events`] walks day by day (one Query per day)
/// besides the dates registry.
pub const DAY_WALK_LIMIT: i64 = 400;
/// Status of a checkpoint item created by a commit before its run recorded how it ended.
const STATUS_IN_PROGRESS: &str = "partial";
/// Control-table keys of file markers start with this.
const FILE_PREFIX: &str = "file#";
/// Control-table keys of bookkeeping items start with this.
const META_PREFIX: &str = "meta#";
/// The control item listing every `event_date` written (`dates`, a string set).
const DATES_KEY: &str = "meta#event-dates";
/// The value of `alert_kind` (the hash key of [`CREATED_INDEX`]).
const ALERT_KIND: &str = "alert";
/// The value of `pending` while an alert is not delivered.
const PENDING_MARK: &str = "1";
/// The JSON fields cut first when an item is too large, in this order (larger first).
const JSON_FIELDS: [&str; 2] = ["request_parameters", "response_elements"];
/// Other string attributes that may be cut as a last resort (never keys or index keys).
const OTHER_CUTTABLE: [&str; 7] =
    ["error_message", "user_agent", "principal_arn", "source_ip", "identity_type", "aws_region", "event_time"];

/// The three table names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub events: String,
    pub control: String,
    pub alerts: String,
}

impl TableNames {
    /// `STACK-events`, `STACK-control`, `STACK-alerts` (the SAM template's names).
    pub fn for_stack(stack: &str) -> Self {
        TableNames {
            events: format!("{stack}-events"),
            control: format!("{stack}-control"),
            alerts: format!("{stack}-alerts"),
        }
    }

    /// From [`EVENTS_TABLE_ENV`], [`CONTROL_TABLE_ENV`] and [`ALERTS_TABLE_ENV`].
    pub fn from_env() -> Result<Self, StoreError> {
        Self::from_env_with(|k| std::env::var(k).ok())
    }

    /// [`TableNames::from_env`] over any environment; an empty value counts as unset.
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        let need = |k: &str| {
            get(k).filter(|v| !v.trim().is_empty()).ok_or_else(|| StoreError::Open {
                path: "dynamodb".into(),
                detail: format!(
                    "{k} is not set: `--store dynamodb` takes the table names from {EVENTS_TABLE_ENV}, \
                     {CONTROL_TABLE_ENV} and {ALERTS_TABLE_ENV}; set them, or use --store dynamodb:STACK \
                     (tables STACK-events, STACK-control, STACK-alerts)"
                ),
            })
        };
        Ok(TableNames {
            events: need(EVENTS_TABLE_ENV)?,
            control: need(CONTROL_TABLE_ENV)?,
            alerts: need(ALERTS_TABLE_ENV)?,
        })
    }

    fn all(&self) -> [&str; 3] {
        [&self.events, &self.control, &self.alerts]
    }
}

/// Tunables of a [`DynamoStore`].
#[derive(Debug, Clone)]
pub struct DynamoOptions {
    /// How long one commit (and one read) may keep retrying before it fails.
    pub commit_deadline: Duration,
    /// Seconds after an event's time when its item expires (`ttl`); `None` keeps it.
    pub event_retention: Option<i64>,
    /// Batch requests in flight at once within one call.
    pub max_in_flight: usize,
    /// First backoff step (the n-th retry waits a random time up to `base * 2^n`).
    pub backoff_base: Duration,
    /// Largest backoff step.
    pub backoff_cap: Duration,
}

impl Default for DynamoOptions {
    fn default() -> Self {
        DynamoOptions {
            commit_deadline: Duration::from_secs(60),
            event_retention: None,
            max_in_flight: 8,
            backoff_base: Duration::from_millis(50),
            backoff_cap: Duration::from_secs(5),
        }
    }
}

impl DynamoOptions {
    /// The defaults, with the event retention from [`EVENT_RETENTION_ENV`] (days).
    pub fn from_env() -> Result<Self, StoreError> {
        let mut o = DynamoOptions::default();
        if let Some(v) = std::env::var(EVENT_RETENTION_ENV).ok().filter(|v| !v.trim().is_empty()) {
            let days: i64 = v.trim().parse().ok().filter(|d| *d >= 0).ok_or_else(|| StoreError::Open {
                path: "dynamodb".into(),
                detail: format!("{EVENT_RETENTION_ENV} is `{v}`, expected a number of days (0 = keep forever)"),
            })?;
            o.event_retention = (days > 0).then_some(days * 86_400);
        }
        Ok(o)
    }
}

/// What the store sent, for the run report and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DynamoCounters {
    /// BatchWriteItem calls (first tries and retries).
    pub batch_write_calls: u64,
    /// BatchGetItem calls (first tries and retries).
    pub batch_get_calls: u64,
    /// Retries of any call (unprocessed items or keys, throttling, transient failures).
    pub retries: u64,
    /// Calls answered with throttling.
    pub throttled: u64,
    /// Items returned as `UnprocessedItems` (each time).
    pub unprocessed_items: u64,
    /// Event items stored with a field cut to fit 400 KB.
    pub truncated_items: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batch_write_calls: AtomicU64,
    batch_get_calls: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    unprocessed_items: AtomicU64,
    truncated_items: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// A failed call: the service's error code (if any) and a readable detail.
#[derive(Debug, Clone)]
struct Failure {
    code: Option<String>,
    detail: String,
}

impl Failure {
    fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(c) => write!(f, "{c}: {}", self.detail),
            None => f.write_str(&self.detail),
        }
    }
}

/// Whether a DynamoDB error code means "slow down".
pub fn is_throttling(code: &str) -> bool {
    code == "ProvisionedThroughputExceededException" || super::is_throttling_code(code)
}

/// The failure, whether it is worth retrying, and whether it was throttling.
fn classify<E>(err: &SdkError<E, HttpResponse>) -> (Failure, bool, bool)
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_owned);
    let detail = match err.message() {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => DisplayErrorContext(err).to_string(),
    };
    let throttled = code.as_deref().is_some_and(is_throttling) || status == Some(429);
    let transient = throttled
        || status.is_some_and(|s| s >= 500)
        || matches!(err, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_));
    (Failure { code, detail }, transient, throttled)
}

/// Exponential backoff with full jitter: a random wait up to `min(cap, base * 2^attempt)`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(20)).min(cap);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(fastrand::u64(0..=nanos))
}

/// What async calls share (cheap to clone into spawned tasks).
#[derive(Clone)]
struct Ctx {
    client: Client,
    counters: Arc<Counters>,
    base: Duration,
    cap: Duration,
}

impl Ctx {
    /// Send a request, retrying throttling and transient failures until `deadline`.
    async fn call<T, E, F, Fut>(&self, deadline: Instant, mut send: F) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut attempt = 0u32;
        loop {
            match send().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let (failure, transient) = self.failed(&e);
                    if !transient || !self.pause(attempt, deadline).await {
                        return Err(failure);
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// Classify a failed call, counting it when it was throttled: the failure, and whether
    /// it is worth retrying.
    fn failed<E>(&self, err: &SdkError<E, HttpResponse>) -> (Failure, bool)
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let (failure, transient, throttled) = classify(err);
        if throttled {
            bump(&self.counters.throttled, 1);
        }
        (failure, transient)
    }

    /// Wait one backoff step before a retry; `false` when the deadline has passed.
    async fn pause(&self, attempt: u32, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        bump(&self.counters.retries, 1);
        tokio::time::sleep(backoff(attempt, self.base, self.cap).min(deadline - now)).await;
        true
    }
}

/// Why a batch call gave up.
enum BatchError {
    /// The deadline passed with this many items (or keys) not confirmed.
    Deadline(usize),
    Failed(String),
}

/// Write one chunk (at most 25 requests) until every item is processed or the deadline.
async fn write_chunk(
    ctx: Ctx,
    table: String,
    mut reqs: Vec<WriteRequest>,
    deadline: Instant,
) -> Result<(), BatchError> {
    let mut attempt = 0u32;
    loop {
        bump(&ctx.counters.batch_write_calls, 1);
        match ctx.client.batch_write_item().request_items(&table, reqs.clone()).send().await {
            Ok(out) => {
                let left = out.unprocessed_items.and_then(|mut m| m.remove(&table)).unwrap_or_default();
                if left.is_empty() {
                    return Ok(());
                }
                bump(&ctx.counters.unprocessed_items, left.len() as u64);
                reqs = left;
            }
            Err(e) => {
                let (failure, transient) = ctx.failed(&e);
                if !transient {
                    return Err(BatchError::Failed(format!("BatchWriteItem on table {table}: {failure}")));
                }
            }
        }
        if !ctx.pause(attempt, deadline).await {
            return Err(BatchError::Deadline(reqs.len()));
        }
        attempt += 1;
    }
}

/// Read one chunk of keys (at most 100), following `UnprocessedKeys`, until the deadline.
async fn get_chunk(
    ctx: Ctx,
    table: String,
    keys: Vec<Item>,
    projection: Option<(&'static str, Vec<(&'static str, &'static str)>)>,
    consistent: bool,
    deadline: Instant,
) -> Result<Vec<Item>, BatchError> {
    let build = |keys: Vec<Item>| {
        let mut b = KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(consistent);
        if let Some((expr, names)) = &projection {
            b = b.projection_expression(*expr);
            for (k, v) in names {
                b = b.expression_attribute_names(*k, *v);
            }
        }
        b.build().map_err(|e| BatchError::Failed(format!("BatchGetItem on table {table}: {e}")))
    };
    let mut pending = build(keys)?;
    let mut found = Vec::new();
    let mut attempt = 0u32;
    loop {
        bump(&ctx.counters.batch_get_calls, 1);
        match ctx.client.batch_get_item().request_items(&table, pending.clone()).send().await {
            Ok(out) => {
                found.extend(out.responses.and_then(|mut r| r.remove(&table)).unwrap_or_default());
                match out.unprocessed_keys.and_then(|mut u| u.remove(&table)) {
                    Some(left) if !left.keys().is_empty() => pending = left,
                    _ => return Ok(found),
                }
            }
            Err(e) => {
                let (failure, transient) = ctx.failed(&e);
                if !transient {
                    return Err(BatchError::Failed(format!("BatchGetItem on table {table}: {failure}")));
                }
            }
        }
        if !ctx.pause(attempt, deadline).await {
            return Err(BatchError::Deadline(pending.keys().len()));
        }
        attempt += 1;
    }
}

/// Run batch jobs with at most `limit` in flight; every job's result, in completion order.
async fn run_limited<T, F>(jobs: Vec<F>, limit: usize) -> Vec<Result<T, BatchError>>
where
    F: Future<Output = Result<T, BatchError>> + Send + 'static,
    T: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    let mut out = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    loop {
        while set.len() < limit.max(1) {
            match jobs.next() {
                Some(j) => {
                    set.spawn(j);
                }
                None => break,
            }
        }
        match set.join_next().await {
            Some(Ok(r)) => out.push(r),
            Some(Err(e)) => out.push(Err(BatchError::Failed(format!("a batch request task stopped: {e}")))),
            None => return out,
        }
    }
}

/// Fold batch results: the first hard failure wins, else the total of unconfirmed items.
fn settle<T>(op: &'static str, results: Vec<Result<T, BatchError>>) -> Result<Vec<T>, StoreError> {
    let mut pending = 0usize;
    let mut failed = None;
    let mut ok = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(BatchError::Deadline(n)) => pending += n,
            Err(BatchError::Failed(d)) => {
                failed.get_or_insert(d);
            }
        }
    }
    if let Some(detail) = failed {
        return Err(StoreError::Backend { op, detail });
    }
    if pending > 0 {
        return Err(StoreError::Deadline { pending });
    }
    Ok(ok)
}

/// The DynamoDB store. See the module docs for threading and crash safety.
pub struct DynamoStore {
    rt: Runtime,
    ctx: Ctx,
    tables: TableNames,
    opts: DynamoOptions,
    label: String,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore").field("tables", &self.tables).finish_non_exhaustive()
    }
}

fn runtime() -> Result<Runtime, StoreError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| StoreError::Open {
        path: "dynamodb".into(),
        detail: format!("cannot start the store's async runtime: {e}"),
    })
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl DynamoStore {
    /// Connect with the standard SDK chain (credentials, region, `AWS_ENDPOINT_URL[_DYNAMODB]`);
    /// `endpoint` overrides the endpoint. Does not check the tables (see
    /// [`DynamoStore::check_tables`]).
    pub fn connect(
        tables: TableNames,
        label: impl Into<String>,
        endpoint: Option<&str>,
        opts: DynamoOptions,
    ) -> Result<Self, StoreError> {
        let rt = runtime()?;
        let config = rt.block_on(super::sdk_config(endpoint));
        let conf = aws_sdk_dynamodb::config::Builder::from(&config);
        Ok(Self::build(rt, conf, tables, label.into(), opts))
    }

    /// Over an explicit client configuration (tests: static credentials, an explicit region and
    /// endpoint, or a mock HTTP client). SDK retries are turned off and the adapters' timeouts
    /// set here.
    pub fn from_conf(
        conf: aws_sdk_dynamodb::config::Builder,
        tables: TableNames,
        opts: DynamoOptions,
    ) -> Result<Self, StoreError> {
        let label = format!("dynamodb:{}", tables.events);
        Ok(Self::build(runtime()?, conf, tables, label, opts))
    }

    fn build(
        rt: Runtime,
        conf: aws_sdk_dynamodb::config::Builder,
        tables: TableNames,
        label: String,
        opts: DynamoOptions,
    ) -> Self {
        let conf = conf.retry_config(RetryConfig::disabled()).timeout_config(super::timeouts()).build();
        let ctx = Ctx {
            client: Client::from_conf(conf),
            counters: Arc::default(),
            base: opts.backoff_base,
            cap: opts.backoff_cap,
        };
        DynamoStore { rt, ctx, tables, opts, label }
    }

    /// The table names.
    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// The calls made so far.
    pub fn counters(&self) -> DynamoCounters {
        let c = &self.ctx.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DynamoCounters {
            batch_write_calls: get(&c.batch_write_calls),
            batch_get_calls: get(&c.batch_get_calls),
            retries: get(&c.retries),
            throttled: get(&c.throttled),
            unprocessed_items: get(&c.unprocessed_items),
            truncated_items: get(&c.truncated_items),
        }
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.opts.commit_deadline
    }

    fn backend(op: &'static str, table: &str, f: impl std::fmt::Display) -> StoreError {
        StoreError::Backend { op, detail: format!("table {table}: {f}") }
    }

    /// Fail unless the three tables exist (DescribeTable), naming the missing one and how to
    /// create it.
    pub fn check_tables(&self) -> Result<(), StoreError> {
        let deadline = self.deadline();
        self.rt.block_on(async {
            for t in self.tables.all() {
                let r = self.ctx.call(deadline, || self.ctx.client.describe_table().table_name(t).send()).await;
                match r {
                    Ok(_) => {}
                    Err(f) if f.is("ResourceNotFoundException") => {
                        return Err(StoreError::Open {
                            path: self.label.clone(),
                            detail: format!(
                                "table {t} does not exist; create the tables with `iam-tracker init --store {}` \
                                 (or deploy the SAM template)",
                                self.label
                            ),
                        })
                    }
                    Err(f) => {
                        return Err(StoreError::Open {
                            path: self.label.clone(),
                            detail: format!("cannot describe table {t}: {f}"),
                        })
                    }
                }
            }
            Ok(())
        })
    }

    /// Create the three tables (PAY_PER_REQUEST, keys, GSIs with projection ALL, TTL on `ttl`
    /// for events and alerts) for local or test use, and wait until they are ACTIVE. Tables that
    /// already exist are reported as such, with any index this store needs that they lack.
    pub fn create_tables(&self) -> Result<Vec<TableSetup>, StoreError> {
        let deadline = Instant::now() + Duration::from_secs(120);
        self.rt.block_on(async {
            let mut out = Vec::new();
            for spec in table_specs(&self.tables) {
                out.push(self.create_table(&spec, deadline).await?);
            }
            Ok(out)
        })
    }

    async fn create_table(&self, spec: &TableSpec, deadline: Instant) -> Result<TableSetup, StoreError> {
        let fail = |f: &dyn std::fmt::Display| StoreError::Open {
            path: self.label.clone(),
            detail: format!("cannot create table {}: {f}", spec.name),
        };
        let attr = |(name, ty): &(&str, ScalarAttributeType)| {
            AttributeDefinition::builder().attribute_name(*name).attribute_type(ty.clone()).build()
        };
        let keys = |hash: &str, range: Option<&str>| -> Result<Vec<KeySchemaElement>, StoreError> {
            let mut k = vec![KeySchemaElement::builder()
                .attribute_name(hash)
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| fail(&e))?];
            if let Some(r) = range {
                k.push(
                    KeySchemaElement::builder()
                        .attribute_name(r)
                        .key_type(KeyType::Range)
                        .build()
                        .map_err(|e| fail(&e))?,
                );
            }
            Ok(k)
        };
        let attrs = spec.attributes.iter().map(attr).collect::<Result<Vec<_>, _>>().map_err(|e| fail(&e))?;
        let mut gsis = Vec::new();
        for (name, hash, range) in &spec.indexes {
            gsis.push(
                GlobalSecondaryIndex::builder()
                    .index_name(*name)
                    .set_key_schema(Some(keys(hash, Some(range))?))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(|e| fail(&e))?,
            );
        }
        let created = {
            let req = self
                .ctx
                .client
                .create_table()
                .table_name(&spec.name)
                .billing_mode(BillingMode::PayPerRequest)
                .set_attribute_definitions(Some(attrs))
                .set_key_schema(Some(keys(spec.hash, spec.range)?))
                .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis));
            match self.ctx.call(deadline, || req.clone().send()).await {
                Ok(_) => true,
                Err(f) if f.is("ResourceInUseException") => false,
                Err(f) => return Err(fail(&f)),
            }
        };
        // Wait until the table and its indexes are ACTIVE.
        let missing_indexes: Vec<String> = loop {
            let d = self
                .ctx
                .call(deadline, || self.ctx.client.describe_table().table_name(&spec.name).send())
                .await
                .map_err(|f| fail(&f))?;
            let Some(table) = d.table else { return Err(fail(&"DescribeTable answered without a table")) };
            let gsis = table.global_secondary_indexes();
            let indexes_active = gsis.iter().all(|g| g.index_status().is_none_or(|s| *s == IndexStatus::Active));
            if table.table_status() == Some(&TableStatus::Active) && indexes_active {
                let have: HashSet<&str> = gsis.iter().filter_map(|g| g.index_name()).collect();
                break spec
                    .indexes
                    .iter()
                    .map(|(n, _, _)| *n)
                    .filter(|n| !have.contains(n))
                    .map(String::from)
                    .collect();
            }
            if Instant::now() >= deadline {
                return Err(fail(&"it did not become ACTIVE within 120 s"));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let mut ttl_enabled = false;
        if spec.ttl {
            let d = self
                .ctx
                .call(deadline, || self.ctx.client.describe_time_to_live().table_name(&spec.name).send())
                .await
                .map_err(|f| fail(&f))?;
            let status = d.time_to_live_description().and_then(|t| t.time_to_live_status().cloned());
            if !matches!(status, Some(TimeToLiveStatus::Enabled) | Some(TimeToLiveStatus::Enabling)) {
                let ttl = TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("ttl")
                    .build()
                    .map_err(|e| fail(&e))?;
                self.ctx
                    .call(deadline, || {
                        self.ctx
                            .client
                            .update_time_to_live()
                            .table_name(&spec.name)
                            .time_to_live_specification(ttl.clone())
                            .send()
                    })
                    .await
                    .map_err(|f| fail(&f))?;
            }
            ttl_enabled = true;
        }
        Ok(TableSetup { name: spec.name.clone(), created, ttl_enabled, missing_indexes })
    }

    // ---- events ----

    /// Which of these (date, id) keys exist.
    async fn existing(
        &self,
        keys: Vec<(String, String)>,
        deadline: Instant,
    ) -> Result<HashSet<(String, String)>, StoreError> {
        let jobs: Vec<_> = keys
            .chunks(GET_CHUNK)
            .map(|c| {
                let items: Vec<Item> = c
                    .iter()
                    .map(|(d, i)| Item::from([("event_date".to_string(), s(d)), ("event_id".to_string(), s(i))]))
                    .collect();
                get_chunk(
                    self.ctx.clone(),
                    self.tables.events.clone(),
                    items,
                    Some(("#d, #i", vec![("#d", "event_date"), ("#i", "event_id")])),
                    true,
                    deadline,
                )
            })
            .collect();
        let found = settle("commit", run_limited(jobs, self.opts.max_in_flight).await)?;
        Ok(found
            .into_iter()
            .flatten()
            .filter_map(|item| {
                Some((str_attr(&item, "event_date")?.to_string(), str_attr(&item, "event_id")?.to_string()))
            })
            .collect())
    }

    /// Put these items, 25 a call, several calls in flight.
    async fn write_all(&self, items: Vec<Item>, deadline: Instant) -> Result<(), StoreError> {
        let mut reqs = Vec::with_capacity(items.len());
        for item in items {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| Self::backend("commit", &self.tables.events, e))?;
            reqs.push(WriteRequest::builder().put_request(put).build());
        }
        let jobs: Vec<_> = reqs
            .chunks(WRITE_CHUNK)
            .map(|c| write_chunk(self.ctx.clone(), self.tables.events.clone(), c.to_vec(), deadline))
            .collect();
        settle("commit", run_limited(jobs, self.opts.max_in_flight).await).map(drop)
    }

    /// Add the dates to the registry that lets unbounded reads find every partition.
    async fn add_dates(&self, dates: BTreeSet<String>, deadline: Instant) -> Result<(), StoreError> {
        if dates.is_empty() {
            return Ok(());
        }
        let set = AttributeValue::Ss(dates.into_iter().collect());
        let c = &self.ctx.client;
        self.ctx
            .call(deadline, || {
                c.update_item()
                    .table_name(&self.tables.control)
                    .key("region", s(DATES_KEY))
                    .update_expression("ADD #dates :d")
                    .expression_attribute_names("#dates", "dates")
                    .expression_attribute_values(":d", set.clone())
                    .send()
            })
            .await
            .map(drop)
            .map_err(|f| Self::backend("commit", &self.tables.control, f))
    }

    async fn registry_dates(&self, deadline: Instant) -> Result<BTreeSet<String>, StoreError> {
        let c = &self.ctx.client;
        let out = self
            .ctx
            .call(deadline, || {
                c.get_item().table_name(&self.tables.control).key("region", s(DATES_KEY)).consistent_read(true).send()
            })
            .await
            .map_err(|f| Self::backend("events", &self.tables.control, f))?;
        Ok(match out.item.as_ref().and_then(|i| i.get("dates")) {
            Some(AttributeValue::Ss(v)) => v.iter().cloned().collect(),
            _ => BTreeSet::new(),
        })
    }

    /// Every item of a Query, following `LastEvaluatedKey`; stops once `cap` items are read.
    async fn query_all(
        &self,
        op: &'static str,
        table: &str,
        q: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        cap: Option<usize>,
        deadline: Instant,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .ctx
                .call(deadline, || q.clone().set_exclusive_start_key(start.clone()).send())
                .await
                .map_err(|f| Self::backend(op, table, f))?;
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() || cap.is_some_and(|c| out.len() >= c) {
                return Ok(out);
            }
        }
    }

    fn decode_events(&self, op: &'static str, items: Vec<Item>) -> Result<Vec<StoredEvent>, StoreError> {
        items.iter().map(|i| event_from_item(i).map_err(|e| Self::backend(op, &self.tables.events, e))).collect()
    }

    async fn query_events(&self, query: &EventQuery, deadline: Instant) -> Result<Vec<StoredEvent>, StoreError> {
        let since_date = query.since.map(timefmt::date_of);
        let from = match (&query.from_date, since_date) {
            (Some(a), Some(b)) => Some(a.clone().max(b)),
            (a, b) => a.clone().or(b),
        };
        let to = query.to_date.clone();
        if from.as_ref().zip(to.as_ref()).is_some_and(|(f, t)| f > t) {
            return Ok(Vec::new());
        }
        let c = &self.ctx.client;
        let mut items = Vec::new();
        // A GSI when a user or an event name is given: one Query over the date range.
        let index = match (&query.user_name, &query.event_name) {
            (Some(u), _) => Some((USER_NAME_INDEX, "user_name", u.clone())),
            (None, Some(e)) => Some((EVENT_NAME_INDEX, "event_name", e.clone())),
            (None, None) => None,
        };
        let mut filters = Vec::new();
        let mut names: Vec<(&str, &str)> = Vec::new();
        let mut values: Vec<(&str, AttributeValue)> = Vec::new();
        if let (Some(_), Some(e)) = (&query.user_name, &query.event_name) {
            filters.push("#en = :en");
            names.push(("#en", "event_name"));
            values.push((":en", s(e)));
        }
        if let Some(since) = query.since {
            filters.push("#ep >= :since");
            names.push(("#ep", "event_epoch"));
            values.push((":since", n(since)));
        }
        let with_filters = |mut q: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder| {
            if !filters.is_empty() {
                q = q.filter_expression(filters.join(" AND "));
            }
            for (k, v) in &names {
                q = q.expression_attribute_names(*k, *v);
            }
            for (k, v) in &values {
                q = q.expression_attribute_values(*k, v.clone());
            }
            q
        };
        if let Some((index, attr, value)) = index {
            let mut cond = "#h = :h".to_string();
            let mut q = c
                .query()
                .table_name(&self.tables.events)
                .index_name(index)
                .expression_attribute_names("#h", attr)
                .expression_attribute_values(":h", s(value));
            match (&from, &to) {
                (Some(f), Some(t)) => {
                    cond.push_str(" AND #d BETWEEN :from AND :to");
                    q = q.expression_attribute_values(":from", s(f)).expression_attribute_values(":to", s(t));
                }
                (Some(f), None) => {
                    cond.push_str(" AND #d >= :from");
                    q = q.expression_attribute_values(":from", s(f));
                }
                (None, Some(t)) => {
                    cond.push_str(" AND #d <= :to");
                    q = q.expression_attribute_values(":to", s(t));
                }
                (None, None) => {}
            }
            if from.is_some() || to.is_some() {
                q = q.expression_attribute_names("#d", "event_date");
            }
            let q = with_filters(q.key_condition_expression(cond));
            items = self.query_all("events", &self.tables.events, q, None, deadline).await?;
        } else {
            for date in self.dates_between(from.as_deref(), to.as_deref(), deadline).await? {
                let q = c
                    .query()
                    .table_name(&self.tables.events)
                    .consistent_read(true)
                    .key_condition_expression("#d = :date")
                    .expression_attribute_names("#d", "event_date")
                    .expression_attribute_values(":date", s(date));
                let q = with_filters(q);
                items.extend(self.query_all("events", &self.tables.events, q, None, deadline).await?);
            }
        }
        let mut events = self.decode_events("events", items)?;
        // The local store's order: event time (not-a-time first), then id.
        events.sort_by_cached_key(|e| (timefmt::parse_event_time(&e.event_time), e.event_id.clone()));
        if let Some(limit) = query.limit {
            events.truncate(limit);
        }
        Ok(events)
    }

    /// The date partitions to read for `[from, to]`: the registry's dates in the range, plus
    /// every day of the range when it has a lower bound and spans at most
    /// [`DAY_WALK_LIMIT`] days (to tomorrow when open-ended), which also finds dates written
    /// by the original (it kept no registry). No Scan either way.
    async fn dates_between(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        deadline: Instant,
    ) -> Result<Vec<String>, StoreError> {
        let registry = self.registry_dates(deadline).await?;
        let in_range = |d: &String| from.is_none_or(|f| d.as_str() >= f) && to.is_none_or(|t| d.as_str() <= t);
        let mut dates: BTreeSet<String> = registry.iter().filter(|d| in_range(d)).cloned().collect();
        if let Some(first) = from.and_then(timefmt::parse_date) {
            let last = to.and_then(timefmt::parse_date).unwrap_or_else(|| timefmt::now() + 86_400);
            if last >= first && (last - first) / 86_400 < DAY_WALK_LIMIT {
                let mut day = first;
                while day <= last {
                    dates.insert(timefmt::date_of(day));
                    day += 86_400;
                }
            }
        }
        Ok(dates.into_iter().collect())
    }

    // ---- control ----

    /// Count a batch's stored events for its task and note the run's time (unconditional).
    async fn bump_task(&self, task: &TaskKey, now: i64, stored: u64, deadline: Instant) -> Result<(), StoreError> {
        let c = &self.ctx.client;
        self.ctx
            .call(deadline, || {
                c.update_item()
                    .table_name(&self.tables.control)
                    .key("region", s(control_key(task)))
                    .update_expression(
                        "SET #tr = :tr, #ts = :ts, #le = :now, #ps = if_not_exists(#ps, :partial) ADD #cnt :n",
                    )
                    .expression_attribute_names("#tr", "task_region")
                    .expression_attribute_names("#ts", "task_source")
                    .expression_attribute_names("#le", "last_execution_time")
                    .expression_attribute_names("#ps", "processing_status")
                    .expression_attribute_names("#cnt", "events_processed_count")
                    .expression_attribute_values(":tr", s(&task.region))
                    .expression_attribute_values(":ts", s(&task.source))
                    .expression_attribute_values(":now", s(iso(now)))
                    .expression_attribute_values(":partial", s(STATUS_IN_PROGRESS))
                    .expression_attribute_values(":n", n(stored))
                    .send()
            })
            .await
            .map(drop)
            .map_err(|f| Self::backend("commit", &self.tables.control, f))
    }

    /// Move a checkpoint forward; `false` when it was already at or past `to`.
    async fn move_checkpoint(&self, task: &TaskKey, to: i64, deadline: Instant) -> Result<bool, StoreError> {
        let c = &self.ctx.client;
        let r = self
            .ctx
            .call(deadline, || {
                c.update_item()
                    .table_name(&self.tables.control)
                    .key("region", s(control_key(task)))
                    .update_expression("SET #lp = :to")
                    .condition_expression("attribute_not_exists(#lp) OR #lp < :to")
                    .expression_attribute_names("#lp", "last_processed_timestamp")
                    .expression_attribute_values(":to", s(iso(to)))
                    .send()
            })
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(f) if f.is("ConditionalCheckFailedException") => Ok(false),
            Err(f) => Err(Self::backend("commit", &self.tables.control, f)),
        }
    }

    async fn mark_file(
        &self,
        key: &str,
        task: &TaskKey,
        events: usize,
        now: i64,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let c = &self.ctx.client;
        let r = self
            .ctx
            .call(deadline, || {
                c.put_item()
                    .table_name(&self.tables.control)
                    .item("region", s(format!("{FILE_PREFIX}{key}")))
                    .item("item_kind", s("file"))
                    .item("file_task", s(task_tag(task)))
                    .item("file_key", s(key))
                    .item("events", n(events))
                    .item("done_at", n(now))
                    .condition_expression("attribute_not_exists(#r)")
                    .expression_attribute_names("#r", "region")
                    .send()
            })
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(f) if f.is("ConditionalCheckFailedException") => Ok(()),
            Err(f) => Err(Self::backend("commit", &self.tables.control, f)),
        }
    }

    // ---- alerts ----

    /// Record an alert as pending unless its dedup key is live; `false` for a duplicate.
    async fn record_alert(&self, a: &AlertRecord, now: i64, deadline: Instant) -> Result<bool, StoreError> {
        let c = &self.ctx.client;
        let mut item = Item::from([
            ("dedup_key".to_string(), s(&a.dedup_key)),
            ("detector".to_string(), s(&a.detector)),
            ("severity".to_string(), s(a.severity.as_str())),
            ("title".to_string(), s(&a.title)),
            ("payload".to_string(), s(&a.payload)),
            ("created_at".to_string(), n(a.created_at)),
            ("dedup_until".to_string(), n(a.dedup_until)),
            ("expires_at".to_string(), n(a.expires_at)),
            // The TTL once delivered: the record must outlive its dedup window.
            ("keep_until".to_string(), n(a.expires_at.max(a.dedup_until))),
            ("alert_kind".to_string(), s(ALERT_KIND)),
            ("pending".to_string(), s(PENDING_MARK)),
        ]);
        if let Some(id) = &a.event_id {
            item.insert("event_id".into(), s(id));
        }
        if let Some(t) = &a.event_time {
            item.insert("event_time".into(), s(t));
        }
        let r = self
            .ctx
            .call(deadline, || {
                c.put_item()
                    .table_name(&self.tables.alerts)
                    .set_item(Some(item.clone()))
                    .condition_expression("attribute_not_exists(#dk) OR (attribute_exists(#sent) AND #du <= :now)")
                    .expression_attribute_names("#dk", "dedup_key")
                    .expression_attribute_names("#sent", "sent_at")
                    .expression_attribute_names("#du", "dedup_until")
                    .expression_attribute_values(":now", n(now))
                    .send()
            })
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(f) if f.is("ConditionalCheckFailedException") => Ok(false),
            Err(f) => Err(Self::backend("commit", &self.tables.alerts, f)),
        }
    }

    async fn commit_async(&self, batch: &Batch, deadline: Instant) -> Result<CommitReport, StoreError> {
        let mut report = CommitReport::default();
        // 1. Events: the new ones only (a key twice in one batch counts once).
        let mut seen = HashSet::new();
        let mut unique = Vec::new();
        for e in &batch.events {
            if seen.insert((e.event_date.clone(), e.event_id.clone())) {
                unique.push(e);
            } else {
                report.already_stored += 1;
            }
        }
        if !unique.is_empty() {
            let keys = unique.iter().map(|e| (e.event_date.clone(), e.event_id.clone())).collect();
            let existing = self.existing(keys, deadline).await?;
            let new: Vec<&StoredEvent> = unique
                .iter()
                .copied()
                .filter(|e| !existing.contains(&(e.event_date.clone(), e.event_id.clone())))
                .collect();
            report.already_stored += (unique.len() - new.len()) as u64;
            let mut items = Vec::with_capacity(new.len());
            for e in &new {
                let ttl = self
                    .opts
                    .event_retention
                    .map(|r| timefmt::parse_event_time(&e.event_time).unwrap_or(batch.now) + r);
                let (item, cut) = event_item(e, ttl);
                if !cut.is_empty() {
                    bump(&self.ctx.counters.truncated_items, 1);
                }
                items.push(item);
            }
            self.write_all(items, deadline).await?;
            report.stored = new.len() as u64;
            self.add_dates(batch.events.iter().map(|e| e.event_date.clone()).collect(), deadline).await?;
        }
        // 2. Alerts, one conditional put each, in order (a key twice: the second is a duplicate).
        for a in &batch.alerts {
            if self.record_alert(a, batch.now, deadline).await? {
                report.alerts_pending += 1;
            } else {
                report.alerts_duplicate += 1;
            }
        }
        // 3. Counters, then the progress marker last.
        match &batch.progress {
            Progress::None => {
                if let (Some(task), true) = (&batch.task, report.stored > 0) {
                    self.bump_task(task, batch.now, report.stored, deadline).await?;
                }
            }
            Progress::Checkpoint { task, to } => {
                self.bump_task(task, batch.now, report.stored, deadline).await?;
                report.checkpoint_moved = self.move_checkpoint(task, *to, deadline).await?;
            }
            Progress::FileDone { key, task } => {
                self.bump_task(task, batch.now, report.stored, deadline).await?;
                self.mark_file(key, task, batch.events.len(), batch.now, deadline).await?;
            }
        }
        Ok(report)
    }

    async fn alerts_query(
        &self,
        op: &'static str,
        index: &str,
        hash: (&str, &str),
        since: Option<i64>,
        deadline: Instant,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let mut q = self
            .ctx
            .client
            .query()
            .table_name(&self.tables.alerts)
            .index_name(index)
            .expression_attribute_names("#h", hash.0)
            .expression_attribute_values(":h", s(hash.1));
        q = match since {
            Some(t) => q
                .key_condition_expression("#h = :h AND #c >= :since")
                .expression_attribute_names("#c", "created_at")
                .expression_attribute_values(":since", n(t)),
            None => q.key_condition_expression("#h = :h"),
        };
        let items = self.query_all(op, &self.tables.alerts, q, None, deadline).await?;
        let mut alerts = items
            .iter()
            .map(|i| alert_from_item(i).map_err(|e| Self::backend(op, &self.tables.alerts, e)))
            .collect::<Result<Vec<_>, _>>()?;
        alerts.sort_by(|a, b| (a.created_at, &a.dedup_key).cmp(&(b.created_at, &b.dedup_key)));
        Ok(alerts)
    }
}

impl Store for DynamoStore {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn commit(&mut self, batch: &Batch) -> Result<CommitReport, StoreError> {
        let deadline = self.deadline();
        self.rt.block_on(self.commit_async(batch, deadline))
    }

    fn checkpoint(&self, task: &TaskKey) -> Result<Option<Checkpoint>, StoreError> {
        let deadline = self.deadline();
        let c = &self.ctx.client;
        let out = self
            .rt
            .block_on(self.ctx.call(deadline, || {
                c.get_item()
                    .table_name(&self.tables.control)
                    .key("region", s(control_key(task)))
                    .consistent_read(true)
                    .send()
            }))
            .map_err(|f| Self::backend("checkpoint", &self.tables.control, f))?;
        out.item
            .map(|i| checkpoint_from_item(&i).map_err(|e| Self::backend("checkpoint", &self.tables.control, e)))
            .transpose()
    }

    /// A Scan of the control table: it holds one item per task plus one per trail file, and
    /// this is only called once per run (and by reports); file markers are filtered out.
    fn checkpoints(&self) -> Result<Vec<(TaskKey, Checkpoint)>, StoreError> {
        let deadline = self.deadline();
        let c = &self.ctx.client;
        let table = &self.tables.control;
        let items = self.rt.block_on(async {
            let mut out = Vec::new();
            let mut start: Option<Item> = None;
            loop {
                let page = self
                    .ctx
                    .call(deadline, || {
                        c.scan()
                            .table_name(table)
                            .consistent_read(true)
                            .filter_expression("NOT begins_with(#r, :file) AND NOT begins_with(#r, :meta)")
                            .expression_attribute_names("#r", "region")
                            .expression_attribute_values(":file", s(FILE_PREFIX))
                            .expression_attribute_values(":meta", s(META_PREFIX))
                            .set_exclusive_start_key(start.clone())
                            .send()
                    })
                    .await
                    .map_err(|f| Self::backend("checkpoints", table, f))?;
                out.extend(page.items.unwrap_or_default());
                start = page.last_evaluated_key.filter(|k| !k.is_empty());
                if start.is_none() {
                    return Ok::<_, StoreError>(out);
                }
            }
        })?;
        let mut cps = Vec::new();
        for item in &items {
            let Some(key) = str_attr(item, "region") else { continue };
            let task = match (str_attr(item, "task_region"), str_attr(item, "task_source")) {
                (Some(r), Some(s)) => TaskKey { region: r.into(), source: s.into() },
                _ => match task_from_legacy_key(key) {
                    Some(t) => t,
                    None => {
                        tracing::warn!(
                            "control table {table}: item `{key}` is not a checkpoint this version knows; skipped"
                        );
                        continue;
                    }
                },
            };
            let cp = checkpoint_from_item(item).map_err(|e| Self::backend("checkpoints", table, e))?;
            cps.push((task, cp));
        }
        cps.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(cps)
    }

    fn record_run(&mut self, task: &TaskKey, now: i64, status: &str, error: Option<&str>) -> Result<(), StoreError> {
        let deadline = self.deadline();
        let c = &self.ctx.client;
        let expr = match error {
            Some(_) => {
                "SET #tr = :tr, #ts = :ts, #le = :now, #ps = :st, #cnt = if_not_exists(#cnt, :zero), #err = :err"
            }
            None => "SET #tr = :tr, #ts = :ts, #le = :now, #ps = :st, #cnt = if_not_exists(#cnt, :zero) REMOVE #err",
        };
        self.rt
            .block_on(self.ctx.call(deadline, || {
                let mut u = c
                    .update_item()
                    .table_name(&self.tables.control)
                    .key("region", s(control_key(task)))
                    .update_expression(expr)
                    .expression_attribute_names("#tr", "task_region")
                    .expression_attribute_names("#ts", "task_source")
                    .expression_attribute_names("#le", "last_execution_time")
                    .expression_attribute_names("#ps", "processing_status")
                    .expression_attribute_names("#cnt", "events_processed_count")
                    .expression_attribute_names("#err", "last_error")
                    .expression_attribute_values(":tr", s(&task.region))
                    .expression_attribute_values(":ts", s(&task.source))
                    .expression_attribute_values(":now", s(iso(now)))
                    .expression_attribute_values(":st", s(status))
                    .expression_attribute_values(":zero", n(0));
                if let Some(e) = error {
                    u = u.expression_attribute_values(":err", s(e));
                }
                u.send()
            }))
            .map(drop)
            .map_err(|f| Self::backend("record_run", &self.tables.control, f))
    }

    fn file_done(&self, key: &str) -> Result<bool, StoreError> {
        let deadline = self.deadline();
        let c = &self.ctx.client;
        let out = self
            .rt
            .block_on(self.ctx.call(deadline, || {
                c.get_item()
                    .table_name(&self.tables.control)
                    .key("region", s(format!("{FILE_PREFIX}{key}")))
                    .projection_expression("#r")
                    .expression_attribute_names("#r", "region")
                    .consistent_read(true)
                    .send()
            }))
            .map_err(|f| Self::backend("file_done", &self.tables.control, f))?;
        Ok(out.item.is_some_and(|i| !i.is_empty()))
    }

    fn files_done(&self, task: &TaskKey) -> Result<HashSet<String>, StoreError> {
        let deadline = self.deadline();
        let q = self
            .ctx
            .client
            .query()
            .table_name(&self.tables.control)
            .index_name(FILES_INDEX)
            .key_condition_expression("#t = :t")
            .expression_attribute_names("#t", "file_task")
            .expression_attribute_values(":t", s(task_tag(task)));
        let items = self.rt.block_on(self.query_all("files_done", &self.tables.control, q, None, deadline))?;
        Ok(items
            .iter()
            .filter_map(|i| str_attr(i, "file_key").or_else(|| str_attr(i, "region")?.strip_prefix(FILE_PREFIX)))
            .map(str::to_string)
            .collect())
    }

    /// The sparse pending index lists candidates; a consistent BatchGetItem then confirms each
    /// is still pending, so an alert marked sent is never offered again because the index lags.
    fn pending_alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
        let deadline = self.deadline();
        self.rt.block_on(async {
            let listed =
                self.alerts_query("pending_alerts", PENDING_INDEX, ("pending", PENDING_MARK), None, deadline).await?;
            if listed.is_empty() {
                return Ok(listed);
            }
            let jobs: Vec<_> = listed
                .chunks(GET_CHUNK)
                .map(|c| {
                    let keys = c.iter().map(|a| Item::from([("dedup_key".to_string(), s(&a.dedup_key))])).collect();
                    get_chunk(self.ctx.clone(), self.tables.alerts.clone(), keys, None, true, deadline)
                })
                .collect();
            let items = settle("pending_alerts", run_limited(jobs, self.opts.max_in_flight).await)?;
            let mut alerts = items
                .iter()
                .flatten()
                .map(|i| alert_from_item(i).map_err(|e| Self::backend("pending_alerts", &self.tables.alerts, e)))
                .collect::<Result<Vec<_>, _>>()?;
            alerts.retain(|a| a.sent_at.is_none());
            alerts.sort_by(|a, b| (a.created_at, &a.dedup_key).cmp(&(b.created_at, &b.dedup_key)));
            Ok(alerts)
        })
    }

    fn mark_sent(&mut self, dedup_key: &str, sent_at: i64) -> Result<(), StoreError> {
        let deadline = self.deadline();
        let c = &self.ctx.client;
        let r = self.rt.block_on(self.ctx.call(deadline, || {
            c.update_item()
                .table_name(&self.tables.alerts)
                .key("dedup_key", s(dedup_key))
                .update_expression("SET #sent = if_not_exists(#sent, :t), #ttl = if_not_exists(#ttl, #keep) REMOVE #p")
                .condition_expression("attribute_exists(#dk)")
                .expression_attribute_names("#sent", "sent_at")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_names("#keep", "keep_until")
                .expression_attribute_names("#p", "pending")
                .expression_attribute_names("#dk", "dedup_key")
                .expression_attribute_values(":t", n(sent_at))
                .send()
        }));
        match r {
            Ok(_) => Ok(()),
            Err(f) if f.is("ConditionalCheckFailedException") => {
                Err(Self::backend("mark_sent", &self.tables.alerts, format!("no alert with dedup key `{dedup_key}`")))
            }
            Err(f) => Err(Self::backend("mark_sent", &self.tables.alerts, f)),
        }
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let deadline = self.deadline();
        self.rt.block_on(self.query_events(query, deadline))
    }

    fn alerts(&self, since: Option<i64>) -> Result<Vec<AlertRecord>, StoreError> {
        let deadline = self.deadline();
        self.rt.block_on(self.alerts_query("alerts", CREATED_INDEX, ("alert_kind", ALERT_KIND), since, deadline))
    }

    fn events_page(&self, date: &str, after: Option<&str>, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let deadline = self.deadline();
        let mut q = self
            .ctx
            .client
            .query()
            .table_name(&self.tables.events)
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .expression_attribute_names("#d", "event_date")
            .expression_attribute_values(":d", s(date));
        q = match after {
            Some(a) => q
                .key_condition_expression("#d = :d AND #i > :after")
                .expression_attribute_names("#i", "event_id")
                .expression_attribute_values(":after", s(a)),
            None => q.key_condition_expression("#d = :d"),
        };
        let mut items =
            self.rt.block_on(self.query_all("events_page", &self.tables.events, q, Some(limit), deadline))?;
        items.truncate(limit);
        self.decode_events("events_page", items)
    }

    fn date_count(&self, date: &str) -> Result<u64, StoreError> {
        let deadline = self.deadline();
        let c = &self.ctx.client;
        self.rt.block_on(async {
            let mut total = 0u64;
            let mut start: Option<Item> = None;
            loop {
                let page = self
                    .ctx
                    .call(deadline, || {
                        c.query()
                            .table_name(&self.tables.events)
                            .select(Select::Count)
                            .key_condition_expression("#d = :d")
                            .expression_attribute_names("#d", "event_date")
                            .expression_attribute_values(":d", s(date))
                            .set_exclusive_start_key(start.clone())
                            .send()
                    })
                    .await
                    .map_err(|f| Self::backend("date_count", &self.tables.events, f))?;
                total += u64::try_from(page.count).unwrap_or(0);
                start = page.last_evaluated_key.filter(|k| !k.is_empty());
                if start.is_none() {
                    return Ok(total);
                }
            }
        })
    }
}

/// What [`DynamoStore::create_tables`] did with one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSetup {
    pub name: String,
    /// `false`: it already existed.
    pub created: bool,
    /// TTL on `ttl` is enabled (events and alerts tables).
    pub ttl_enabled: bool,
    /// Indexes this store needs that an existing table lacks (add them with UpdateTable).
    pub missing_indexes: Vec<String>,
}

struct TableSpec {
    name: String,
    hash: &'static str,
    range: Option<&'static str>,
    attributes: Vec<(&'static str, ScalarAttributeType)>,
    /// (index name, hash, range)
    indexes: Vec<(&'static str, &'static str, &'static str)>,
    ttl: bool,
}

fn table_specs(t: &TableNames) -> [TableSpec; 3] {
    use ScalarAttributeType::{N, S};
    [
        TableSpec {
            name: t.events.clone(),
            hash: "event_date",
            range: Some("event_id"),
            attributes: vec![("event_date", S), ("event_id", S), ("user_name", S), ("event_name", S)],
            indexes: vec![(USER_NAME_INDEX, "user_name", "event_date"), (EVENT_NAME_INDEX, "event_name", "event_date")],
            ttl: true,
        },
        TableSpec {
            name: t.control.clone(),
            hash: "region",
            range: None,
            attributes: vec![("region", S), ("file_task", S)],
            indexes: vec![(FILES_INDEX, "file_task", "region")],
            ttl: false,
        },
        TableSpec {
            name: t.alerts.clone(),
            hash: "dedup_key",
            range: None,
            attributes: vec![("dedup_key", S), ("pending", S), ("alert_kind", S), ("created_at", N)],
            indexes: vec![(PENDING_INDEX, "pending", "created_at"), (CREATED_INDEX, "alert_kind", "created_at")],
            ttl: true,
        },
    ]
}

/// The control-table key of a task: the original's checkpoint names for LookupEvents tasks
/// (`iam-events`, `signin-events`, `sts-{region}`, `sso-{region}`), so existing tables carry
/// on; `trail#{location}` for trail tasks; `task#{region}#{source}` otherwise.
pub fn control_key(task: &TaskKey) -> String {
    match (task.region.as_str(), task.source.as_str()) {
        ("us-east-1", "iam.amazonaws.com") => "iam-events".into(),
        ("us-east-1", "signin.amazonaws.com") => "signin-events".into(),
        (r, "sts.amazonaws.com") => format!("sts-{r}"),
        (r, "sso.amazonaws.com") => format!("sso-{r}"),
        ("trail", s) => format!("trail#{s}"),
        (r, s) => format!("task#{r}#{s}"),
    }
}

/// The task of a control item written by the original (which stored no task attributes).
pub fn task_from_legacy_key(key: &str) -> Option<TaskKey> {
    let t = |r: &str, s: &str| Some(TaskKey { region: r.into(), source: s.into() });
    match key {
        "iam-events" => t("us-east-1", "iam.amazonaws.com"),
        "signin-events" => t("us-east-1", "signin.amazonaws.com"),
        _ => {
            if let Some(r) = key.strip_prefix("sts-").filter(|r| !r.is_empty()) {
                t(r, "sts.amazonaws.com")
            } else if let Some(r) = key.strip_prefix("sso-").filter(|r| !r.is_empty()) {
                t(r, "sso.amazonaws.com")
            } else {
                None
            }
        }
    }
}

/// The `file_task` value of a task's file markers (the [`FILES_INDEX`] hash key).
fn task_tag(task: &TaskKey) -> String {
    format!("{}#{}", task.region, task.source)
}

/// Epoch seconds as the original wrote checkpoint times: `2025-08-10T18:26:07+00:00`. One
/// fixed width UTC format, so string order is time order (also against the original's
/// microsecond values: `.` sorts after `+`).
pub fn iso(epoch: i64) -> String {
    let z = timefmt::rfc3339(epoch);
    match z.strip_suffix('Z') {
        Some(base) => format!("{base}+00:00"),
        None => z,
    }
}

/// A time attribute: an ISO-8601 string (ours or the original's) or epoch seconds.
fn time_attr(item: &Item, name: &str) -> Result<Option<i64>, String> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(t)) if t.is_empty() => Ok(None),
        Some(AttributeValue::S(t)) => {
            timefmt::parse_event_time(t).map(Some).ok_or_else(|| format!("`{name}` is `{t}`, not a time"))
        }
        Some(AttributeValue::N(v)) => {
            v.parse::<f64>().map(|f| Some(f as i64)).map_err(|_| format!("`{name}` is `{v}`, not a number"))
        }
        Some(other) => Err(format!("`{name}` has an unexpected type ({other:?})")),
    }
}

fn str_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

fn opt_str(item: &Item, name: &str) -> Option<String> {
    str_attr(item, name).map(str::to_string)
}

fn num_attr(item: &Item, name: &str) -> Result<Option<i64>, String> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(v)) => v.parse().map(Some).map_err(|_| format!("`{name}` is `{v}`, not an integer")),
        Some(other) => Err(format!("`{name}` has an unexpected type ({other:?})")),
    }
}

fn checkpoint_from_item(item: &Item) -> Result<Checkpoint, String> {
    let key = str_attr(item, "region").unwrap_or("?");
    let ctx = |e: String| format!("checkpoint `{key}`: {e}");
    let count = num_attr(item, "events_processed_count").map_err(ctx)?.unwrap_or(0);
    Ok(Checkpoint {
        last_processed: time_attr(item, "last_processed_timestamp").map_err(ctx)?.unwrap_or(0),
        last_execution: time_attr(item, "last_execution_time").map_err(ctx)?.unwrap_or(0),
        events_processed: u64::try_from(count).map_err(|_| ctx(format!("events_processed_count is {count}")))?,
        status: opt_str(item, "processing_status").unwrap_or_else(|| "unknown".into()),
        // The original initialised `last_error` to '' and never wrote it.
        last_error: opt_str(item, "last_error").filter(|e| !e.is_empty()),
    })
}

fn alert_from_item(item: &Item) -> Result<AlertRecord, String> {
    let key = str_attr(item, "dedup_key").ok_or("an alert item without `dedup_key`")?.to_string();
    let ctx = |e: String| format!("alert `{key}`: {e}");
    let need_s = |name: &str| opt_str(item, name).ok_or_else(|| ctx(format!("`{name}` is missing")));
    let need_n = |name: &str| num_attr(item, name).map_err(ctx)?.ok_or_else(|| ctx(format!("`{name}` is missing")));
    let severity = need_s("severity")?;
    Ok(AlertRecord {
        detector: need_s("detector")?,
        severity: Severity::parse(&severity).ok_or_else(|| ctx(format!("unknown severity `{severity}`")))?,
        title: need_s("title")?,
        event_id: opt_str(item, "event_id"),
        event_time: opt_str(item, "event_time"),
        payload: need_s("payload")?,
        created_at: need_n("created_at")?,
        sent_at: num_attr(item, "sent_at").map_err(ctx)?,
        dedup_until: need_n("dedup_until")?,
        expires_at: need_n("expires_at")?,
        dedup_key: key.clone(),
    })
}

fn parse_event_type(s: &str) -> Option<EventType> {
    [EventType::Iam, EventType::Sts, EventType::Signin, EventType::Sso, EventType::Other]
        .into_iter()
        .find(|t| t.as_str() == s)
}

fn gzip(text: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(text.as_bytes());
    enc.finish().unwrap_or_default()
}

fn gunzip(bytes: &[u8]) -> Result<String, String> {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .map_err(|e| format!("`raw_gz` does not decompress: {e}"))?;
    Ok(out)
}

/// The approximate stored size of an item (names plus values, as DynamoDB counts them;
/// numbers are over-estimated).
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len() + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => v.iter().map(|s| s.len() + 1).sum(),
        AttributeValue::L(l) => 3 + l.iter().map(|x| value_size(x) + 1).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, x)| k.len() + value_size(x) + 1).sum::<usize>(),
        _ => 1,
    }
}

/// A JSON member of the raw record as a JSON string; `None` when absent or null.
fn json_member(raw: &serde_json::Value, name: &str) -> Option<String> {
    raw.get(name).filter(|v| !v.is_null()).map(|v| v.to_string())
}

fn cut_to(s: &str, max: usize) -> String {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    s[..i].to_string()
}

/// The item of an event (and the names of what had to be cut to fit 400 KB). Absent facts
/// are absent attributes; the raw record is kept gzip-compressed in `raw_gz`.
pub fn event_item(e: &StoredEvent, ttl: Option<i64>) -> (Item, Vec<String>) {
    let mut item = Item::new();
    let mut put = |k: &str, v: AttributeValue| {
        item.insert(k.to_string(), v);
    };
    put("event_date", s(&e.event_date));
    put("event_id", s(&e.event_id));
    put("event_time", s(&e.event_time));
    put("event_source", s(&e.event_source));
    put("event_type", s(e.event_type.as_str()));
    // Index keys cannot be empty strings: an empty name is left out (and reads back empty).
    if !e.event_name.is_empty() {
        put("event_name", s(&e.event_name));
    }
    let optional = [
        ("user_name", &e.user_name),
        ("identity_type", &e.identity_type),
        ("principal_arn", &e.principal_arn),
        ("aws_region", &e.aws_region),
        ("source_ip", &e.source_ip),
        ("user_agent", &e.user_agent),
        ("error_code", &e.error_code),
        ("error_message", &e.error_message),
        ("recipient_account_id", &e.recipient_account_id),
    ];
    for (k, v) in optional {
        match v {
            Some(v) if k == "user_name" && v.is_empty() => {}
            Some(v) => put(k, s(v)),
            None => {}
        }
    }
    if let Some(epoch) = timefmt::parse_event_time(&e.event_time) {
        put("event_epoch", n(epoch));
    }
    if let Ok(raw) = serde_json::from_str::<serde_json::Value>(&e.raw) {
        for (attr, member) in [("request_parameters", "requestParameters"), ("response_elements", "responseElements")] {
            if let Some(j) = json_member(&raw, member) {
                put(attr, s(j));
            }
        }
    }
    put("raw_gz", AttributeValue::B(Blob::new(gzip(&e.raw))));
    if let Some(t) = ttl {
        put("ttl", n(t));
    }
    let cut = fit(&mut item, &e.event_id);
    (item, cut)
}

/// Cut the item to [`ITEM_BUDGET`]: the JSON fields first (largest first), then the raw
/// record (dropped, with a warning), then other free-text fields. Records what was cut in
/// `truncated` (a string set).
fn fit(item: &mut Item, event_id: &str) -> Vec<String> {
    // Room for the `truncated` attribute itself.
    let budget = ITEM_BUDGET - 200;
    let mut cut: Vec<String> = Vec::new();
    let over = |item: &Item| item_size(item).saturating_sub(budget);
    let shrink = |item: &mut Item, name: &str, cut: &mut Vec<String>| {
        let excess = over(item);
        if excess == 0 {
            return;
        }
        if let Some(AttributeValue::S(v)) = item.get(name) {
            let keep = v.len().saturating_sub(excess);
            let shorter = cut_to(v, keep);
            item.insert(name.to_string(), s(shorter));
            cut.push(name.to_string());
        }
    };
    if over(item) == 0 {
        return cut;
    }
    let mut json: Vec<(&str, usize)> =
        JSON_FIELDS.iter().map(|f| (*f, item.get(*f).map_or(0, value_size))).filter(|(_, n)| *n > 0).collect();
    json.sort_by_key(|e| std::cmp::Reverse(e.1));
    for (f, _) in json {
        shrink(item, f, &mut cut);
    }
    if over(item) > 0 && item.remove("raw_gz").is_some() {
        cut.push("raw".into());
        tracing::warn!(
            "event {event_id}: even the compressed raw record does not fit DynamoDB's 400 KB item limit; \
             it is stored without its raw record (`truncated` lists `raw`)"
        );
    }
    for f in OTHER_CUTTABLE {
        shrink(item, f, &mut cut);
    }
    if !cut.is_empty() {
        tracing::warn!("event {event_id}: over DynamoDB's 400 KB item limit; stored with {} cut", cut.join(", "));
        item.insert("truncated".into(), AttributeValue::Ss(cut.clone()));
    }
    cut
}

/// An event from its item (ours, or one the original wrote: NULLs read as absent, no raw).
pub fn event_from_item(item: &Item) -> Result<StoredEvent, String> {
    let id = str_attr(item, "event_id").ok_or("an event item without `event_id`")?.to_string();
    let ctx = |e: &str| format!("event `{id}`: {e}");
    let date = str_attr(item, "event_date").ok_or_else(|| ctx("`event_date` is missing"))?.to_string();
    let source = opt_str(item, "event_source").unwrap_or_default();
    let event_type = match str_attr(item, "event_type") {
        Some(t) => parse_event_type(t).ok_or_else(|| ctx(&format!("unknown event type `{t}`")))?,
        None => EventType::from_source(&source),
    };
    let raw = match item.get("raw_gz") {
        Some(AttributeValue::B(b)) => gunzip(b.as_ref()).map_err(|e| ctx(&e))?,
        _ => String::new(),
    };
    Ok(StoredEvent {
        event_date: date,
        event_time: opt_str(item, "event_time").unwrap_or_default(),
        event_source: source,
        event_name: opt_str(item, "event_name").unwrap_or_default(),
        event_type,
        user_name: opt_str(item, "user_name"),
        identity_type: opt_str(item, "identity_type"),
        principal_arn: opt_str(item, "principal_arn"),
        aws_region: opt_str(item, "aws_region"),
        source_ip: opt_str(item, "source_ip"),
        user_agent: opt_str(item, "user_agent"),
        error_code: opt_str(item, "error_code"),
        error_message: opt_str(item, "error_message"),
        recipient_account_id: opt_str(item, "recipient_account_id"),
        raw,
        event_id: id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(raw: String) -> StoredEvent {
        StoredEvent {
            event_date: "2024-05-01".into(),
            event_id: "e1".into(),
            event_time: "2024-05-01T12:00:00Z".into(),
            event_source: "iam.amazonaws.com".into(),
            event_name: "PutRolePolicy".into(),
            event_type: EventType::Iam,
            user_name: Some("alice".into()),
            identity_type: None,
            principal_arn: None,
            aws_region: Some("us-east-1".into()),
            source_ip: None,
            user_agent: None,
            error_code: None,
            error_message: None,
            recipient_account_id: None,
            raw,
        }
    }

    #[test]
    fn absent_facts_are_absent_attributes_and_the_item_round_trips() {
        let raw = r#"{"eventID":"e1","requestParameters":{"roleName":"r"},"responseElements":null}"#.to_string();
        let e = event(raw.clone());
        let (item, cut) = event_item(&e, Some(42));
        assert!(cut.is_empty());
        for absent in ["identity_type", "source_ip", "user_agent", "error_code", "response_elements", "truncated"] {
            assert!(!item.contains_key(absent), "{absent} must be absent, not NULL");
        }
        assert!(!item.values().any(|v| matches!(v, AttributeValue::Null(_))));
        assert_eq!(str_attr(&item, "request_parameters"), Some(r#"{"roleName":"r"}"#));
        assert_eq!(item.get("ttl"), Some(&n(42)));
        assert_eq!(item.get("event_epoch"), Some(&n(1_714_564_800)));
        assert_eq!(event_from_item(&item).expect("decodes"), e);
    }

    #[test]
    fn an_oversized_item_is_cut_flagged_and_keeps_its_raw_record() {
        // Incompressible-ish parameters: 600 KB of pseudo-random hex.
        let mut rng = fastrand::Rng::with_seed(7);
        let blob: String = (0..600_000).map(|_| char::from_digit(rng.u32(0..16), 16).unwrap_or('0')).collect();
        let raw = format!(r#"{{"eventID":"e1","requestParameters":{{"policyDocument":"{blob}"}}}}"#);
        let e = event(raw.clone());
        let (item, cut) = event_item(&e, None);
        assert!(item_size(&item) <= MAX_ITEM_BYTES, "{} bytes", item_size(&item));
        assert!(cut.contains(&"request_parameters".to_string()), "{cut:?}");
        assert!(item.contains_key("raw_gz"), "hex compresses to ~50%: the raw record still fits");
        assert_eq!(item.get("truncated"), Some(&AttributeValue::Ss(cut.clone())));
        assert_eq!(event_from_item(&item).expect("decodes").raw, raw, "the raw record is recoverable");
    }

    #[test]
    fn a_raw_record_too_large_even_compressed_is_dropped_and_flagged() {
        let mut rng = fastrand::Rng::with_seed(9);
        let noise: String =
            (0..1_200_000).map(|_| char::from(rng.u8(b'!'..=b'~'))).filter(|c| *c != '"' && *c != '\\').collect();
        let e = event(format!(r#"{{"eventID":"e1","responseElements":{{"x":"{noise}"}}}}"#));
        let (item, cut) = event_item(&e, None);
        assert!(item_size(&item) <= MAX_ITEM_BYTES);
        assert!(cut.contains(&"raw".to_string()) && cut.contains(&"response_elements".to_string()), "{cut:?}");
        assert_eq!(str_attr(&item, "event_name"), Some("PutRolePolicy"), "the item is kept");
        assert_eq!(event_from_item(&item).expect("decodes").raw, "");
    }

    #[test]
    fn legacy_items_of_the_original_read_back() {
        let item = Item::from([
            ("event_date".to_string(), s("2025-08-10")),
            ("event_id".to_string(), s("abc")),
            ("event_time".to_string(), s("2025-08-10T18:26:07+00:00")),
            ("event_name".to_string(), s("ConsoleLogin")),
            ("event_source".to_string(), s("signin.amazonaws.com")),
            ("event_type".to_string(), s("signin")),
            ("user_name".to_string(), s("root")),
            ("source_ip".to_string(), AttributeValue::Null(true)),
            ("request_parameters".to_string(), s("null")),
        ]);
        let e = event_from_item(&item).expect("legacy item");
        assert_eq!((e.source_ip, e.event_type, e.raw.as_str()), (None, EventType::Signin, ""));
        let cp = Item::from([
            ("region".to_string(), s("sts-eu-west-1")),
            ("last_processed_timestamp".to_string(), s("2025-08-10T18:26:07.250000+00:00")),
            ("last_execution_time".to_string(), s("2025-08-10T18:30:00+00:00")),
            ("events_processed_count".to_string(), n(12)),
            ("processing_status".to_string(), s("active")),
            ("last_error".to_string(), s("")),
        ]);
        let c = checkpoint_from_item(&cp).expect("legacy checkpoint");
        assert_eq!((c.last_processed, c.events_processed, c.last_error), (1_754_850_367, 12, None));
        assert_eq!(
            task_from_legacy_key("sts-eu-west-1"),
            Some(TaskKey { region: "eu-west-1".into(), source: "sts.amazonaws.com".into() })
        );
    }

    #[test]
    fn control_keys_are_the_originals_and_invert() {
        for (r, src, key) in [
            ("us-east-1", "iam.amazonaws.com", "iam-events"),
            ("us-east-1", "signin.amazonaws.com", "signin-events"),
            ("ap-south-1", "sts.amazonaws.com", "sts-ap-south-1"),
            ("us-east-1", "sso.amazonaws.com", "sso-us-east-1"),
        ] {
            let t = TaskKey { region: r.into(), source: src.into() };
            assert_eq!(control_key(&t), key);
            assert_eq!(task_from_legacy_key(key), Some(t));
        }
        let trail = TaskKey { region: "trail".into(), source: "s3://b/AWSLogs/".into() };
        assert_eq!(control_key(&trail), "trail#s3://b/AWSLogs/");
        assert_eq!(task_from_legacy_key("trail#x"), None);
    }

    #[test]
    fn iso_times_sort_like_the_times_they_name() {
        assert_eq!(iso(1_754_850_367), "2025-08-10T18:26:07+00:00");
        let times = [0, 1, 59, 86_399, 1_754_850_367, 1_754_850_368, 4_102_444_800];
        for w in times.windows(2) {
            assert!(iso(w[0]) < iso(w[1]), "{} < {}", iso(w[0]), iso(w[1]));
        }
        // Against the original's microsecond values in the same second.
        assert!(*iso(1_754_850_367) < *"2025-08-10T18:26:07.250000+00:00");
        assert!(*"2025-08-10T18:26:07.250000+00:00" < *iso(1_754_850_368));
    }

    #[test]
    fn table_names_come_from_the_stack_or_the_environment() {
        assert_eq!(TableNames::for_stack("s").all(), ["s-events", "s-control", "s-alerts"]);
        let env = |k: &str| match k {
            EVENTS_TABLE_ENV => Some("E".to_string()),
            ALERTS_TABLE_ENV => Some("A".to_string()),
            _ => None,
        };
        let err = TableNames::from_env_with(env).expect_err("control missing").to_string();
        assert!(err.contains("CONTROL_TABLE_NAME is not set"), "{err}");
        let all = |k: &str| Some(format!("t-{k}"));
        assert_eq!(TableNames::from_env_with(all).expect("set").events, "t-EVENTS_TABLE_NAME");
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let (base, cap) = (Duration::from_millis(50), Duration::from_secs(5));
        for attempt in 0..40 {
            let d = backoff(attempt, base, cap);
            assert!(d <= cap && d <= base * 2u32.saturating_pow(attempt.min(20)), "{attempt}: {d:?}");
        }
        assert!(is_throttling("ProvisionedThroughputExceededException") && is_throttling("ThrottlingException"));
        assert!(is_throttling("RequestLimitExceeded") && !is_throttling("ValidationException"));
    }
}
