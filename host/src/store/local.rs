//! The embedded store: one SQLite file (`DIR/iam-tracker.sqlite3`, rusqlite with the bundled
//! SQLite) in WAL mode. See `docs/architecture.md` ("Embedded store") for why SQLite.
//!
//! The tables mirror the DynamoDB design:
//! - `events`: one row per CloudTrail event, `PRIMARY KEY (event_date, event_id)`, every
//!   [`StoredEvent`] attribute (SQL `NULL` for `None`) plus `event_epoch`, the event time in
//!   epoch seconds (`NULL` when the time is not a time), for ordering and `since`. Indexed by
//!   `(user_name, event_date)` and `(event_name, event_date)` like the two GSIs.
//! - `checkpoints`: one row per task `(region, source)`. `last_processed` is `NULL` until a
//!   [`Progress::Checkpoint`] moves it; [`Store::checkpoint`] reports that as `0` ("never";
//!   [`crate::window::window`] clamps it to the lookback floor).
//! - `files`: trail files and objects fully read, with their task.
//! - `alerts`: one row per dedup key, pending while `sent_at` is `NULL`.
//!
//! # Durability
//!
//! [`Store::commit`] is one `BEGIN IMMEDIATE` transaction: events, then alerts, then the
//! progress marker. SQLite makes it atomic: after a crash the batch is either wholly there or
//! wholly absent, so a re-read can only find events already stored (ignored by key) and
//! alerts already recorded (duplicates by dedup key).
//!
//! `synchronous = NORMAL` is enough against `kill -9`: in WAL mode a commit has been
//! written to the WAL file (the operating system's page cache) before `COMMIT` returns, and
//! killing the process does not discard the page cache. Only an operating-system crash or a
//! power loss can drop the newest transactions; WAL recovery then stops at the first
//! incomplete frame, so what is lost is a *suffix* of whole commits: events together with the
//! progress that covered them. The next run re-reads them from the source. Nothing is cached
//! in memory across calls: every read goes to the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};

use super::{
    AlertRecord, Batch, Checkpoint, CommitReport, EventQuery, EventType, Progress, Store, StoreError, StoredEvent,
    TaskKey,
};
use crate::Severity;

/// The database file inside the store's directory.
pub const FILE_NAME: &str = "iam-tracker.sqlite3";

/// Overrides the default data directory.
pub const DATA_DIR_ENV: &str = "IAM_TRACKER_DATA_DIR";

/// The schema this build writes (SQLite `user_version`). A file with a higher version was
/// written by a newer iam-tracker and is refused rather than misread.
pub const SCHEMA_VERSION: i64 = 1;

/// How long a writer waits for another process's transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The status of a checkpoint row created by a commit before its run has recorded how it
/// ended: progress is stored, the task has not reported completion.
const STATUS_IN_PROGRESS: &str = "partial";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    event_date           TEXT NOT NULL,
    event_id             TEXT NOT NULL,
    event_time           TEXT NOT NULL,
    event_epoch          INTEGER,
    event_source         TEXT NOT NULL,
    event_name           TEXT NOT NULL,
    event_type           TEXT NOT NULL,
    user_name            TEXT,
    identity_type        TEXT,
    principal_arn        TEXT,
    aws_region           TEXT,
    source_ip            TEXT,
    user_agent           TEXT,
    error_code           TEXT,
    error_message        TEXT,
    recipient_account_id TEXT,
    raw                  TEXT NOT NULL,
    PRIMARY KEY (event_date, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_user ON events (user_name, event_date);
CREATE INDEX IF NOT EXISTS events_by_name ON events (event_name, event_date);

CREATE TABLE IF NOT EXISTS checkpoints (
    region           TEXT NOT NULL,
    source           TEXT NOT NULL,
    last_processed   INTEGER,
    last_execution   INTEGER NOT NULL,
    events_processed INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL,
    last_error       TEXT,
    PRIMARY KEY (region, source)
);

CREATE TABLE IF NOT EXISTS files (
    key     TEXT PRIMARY KEY,
    region  TEXT NOT NULL,
    source  TEXT NOT NULL,
    events  INTEGER NOT NULL,
    done_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS alerts (
    dedup_key   TEXT PRIMARY KEY,
    detector    TEXT NOT NULL,
    severity    TEXT NOT NULL,
    title       TEXT NOT NULL,
    event_id    TEXT,
    event_time  TEXT,
    payload     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    dedup_until INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_created ON alerts (created_at);
CREATE INDEX IF NOT EXISTS alerts_pending ON alerts (created_at) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_expiry ON alerts (expires_at) WHERE sent_at IS NOT NULL;
";

const EVENT_COLUMNS: &str = "event_date, event_id, event_time, event_source, event_name, event_type, user_name, \
     identity_type, principal_arn, aws_region, source_ip, user_agent, error_code, error_message, \
     recipient_account_id, raw";

const ALERT_COLUMNS: &str =
    "dedup_key, detector, severity, title, event_id, event_time, payload, created_at, sent_at, dedup_until, expires_at";

/// The SQLite store. Holds one connection and nothing else: every answer comes from the file.
pub struct LocalStore {
    conn: Connection,
    dir: PathBuf,
    file: PathBuf,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore").field("file", &self.file).finish_non_exhaustive()
    }
}

impl LocalStore {
    /// Open the store in `dir`, creating the directory and the database when missing.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        create_dir(dir).map_err(|e| open_err(dir, format!("cannot create the directory: {e}")))?;
        Self::open_file(dir, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)
    }

    /// Open a store that must already exist (for read-back commands: a mistyped directory
    /// is an error, not a new empty store).
    pub fn open_existing(dir: &Path) -> Result<Self, StoreError> {
        if !dir.join(FILE_NAME).is_file() {
            return Err(open_err(dir, format!("there is no {FILE_NAME} there (nothing was collected into it yet)")));
        }
        Self::open_file(dir, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    fn open_file(dir: &Path, flags: OpenFlags) -> Result<Self, StoreError> {
        let file = dir.join(FILE_NAME);
        let fail = |e: rusqlite::Error| open_err(&file, e.to_string());
        let conn = Connection::open_with_flags(&file, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        // The first statement reads the header: a file that is not SQLite fails here.
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(fail)?;
        if version > SCHEMA_VERSION {
            return Err(open_err(
                &file,
                format!(
                    "it was written by a newer iam-tracker (schema version {version}, this build reads up to \
                     {SCHEMA_VERSION}); upgrade iam-tracker or use another store"
                ),
            ));
        }
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(&file, format!("cannot switch to WAL mode (journal mode is {mode})")));
        }
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(fail)?;
        if version < SCHEMA_VERSION {
            // One transaction: a crash mid-way leaves version 0 and the next open redoes it.
            conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))
                .map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                fail(e)
            })?;
        }
        Ok(LocalStore { conn, dir: dir.to_path_buf(), file })
    }

    /// The default data directory: `$IAM_TRACKER_DATA_DIR`, else `$XDG_DATA_HOME/iam-tracker`,
    /// else `$HOME/.local/share/iam-tracker`.
    pub fn default_dir() -> Result<PathBuf, StoreError> {
        default_dir_from(|k| std::env::var_os(k))
    }

    /// The directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    fn err(&self, op: &'static str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Backend { op, detail: format!("{}: {e}", self.file.display()) }
    }

    fn commit_tx(&mut self, batch: &Batch) -> rusqlite::Result<CommitReport> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut report = CommitReport::default();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (event_date, event_id, event_time, event_epoch, event_source, event_name, \
                 event_type, user_name, identity_type, principal_arn, aws_region, source_ip, user_agent, \
                 error_code, error_message, recipient_account_id, raw) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
                 ON CONFLICT (event_date, event_id) DO NOTHING",
            )?;
            for e in &batch.events {
                let n = insert.execute(params![
                    e.event_date,
                    e.event_id,
                    e.event_time,
                    crate::timefmt::parse_event_time(&e.event_time),
                    e.event_source,
                    e.event_name,
                    e.event_type.as_str(),
                    e.user_name,
                    e.identity_type,
                    e.principal_arn,
                    e.aws_region,
                    e.source_ip,
                    e.user_agent,
                    e.error_code,
                    e.error_message,
                    e.recipient_account_id,
                    e.raw,
                ])?;
                if n == 1 {
                    report.stored += 1;
                } else {
                    report.already_stored += 1;
                }
            }
        }
        {
            // The table TTL, applied at the batch's time: sent alerts past `expires_at` whose
            // dedup window is over. Pending alerts are never deleted (that would lose them).
            tx.prepare_cached(
                "DELETE FROM alerts WHERE sent_at IS NOT NULL AND expires_at <= ?1 AND dedup_until <= ?1",
            )?
            .execute([batch.now])?;
            let mut live = tx.prepare_cached(
                "SELECT 1 FROM alerts WHERE dedup_key = ?1 AND (sent_at IS NULL OR dedup_until > ?2)",
            )?;
            let mut record = tx.prepare_cached(&format!(
                "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?10) \
                 ON CONFLICT (dedup_key) DO UPDATE SET detector = excluded.detector, severity = excluded.severity, \
                 title = excluded.title, event_id = excluded.event_id, event_time = excluded.event_time, \
                 payload = excluded.payload, created_at = excluded.created_at, sent_at = NULL, \
                 dedup_until = excluded.dedup_until, expires_at = excluded.expires_at"
            ))?;
            for a in &batch.alerts {
                if live.exists(params![a.dedup_key, batch.now])? {
                    report.alerts_duplicate += 1;
                    continue;
                }
                record.execute(params![
                    a.dedup_key,
                    a.detector,
                    a.severity.as_str(),
                    a.title,
                    a.event_id,
                    a.event_time,
                    a.payload,
                    a.created_at,
                    a.dedup_until,
                    a.expires_at,
                ])?;
                report.alerts_pending += 1;
            }
        }
        let stored = i64::try_from(report.stored).unwrap_or(i64::MAX);
        let bump = "INSERT INTO checkpoints (region, source, last_processed, last_execution, events_processed, \
                    status, last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL) \
                    ON CONFLICT (region, source) DO UPDATE SET \
                    last_processed = CASE WHEN excluded.last_processed IS NULL THEN last_processed \
                        ELSE MAX(COALESCE(last_processed, excluded.last_processed), excluded.last_processed) END, \
                    last_execution = excluded.last_execution, \
                    events_processed = events_processed + excluded.events_processed";
        match &batch.progress {
            Progress::None => {
                if let (Some(task), true) = (&batch.task, stored > 0) {
                    tx.execute(
                        bump,
                        params![task.region, task.source, None::<i64>, batch.now, stored, STATUS_IN_PROGRESS],
                    )?;
                }
            }
            Progress::Checkpoint { task, to } => {
                let before: Option<Option<i64>> = tx
                    .query_row(
                        "SELECT last_processed FROM checkpoints WHERE region = ?1 AND source = ?2",
                        params![task.region, task.source],
                        |r| r.get(0),
                    )
                    .optional()?;
                report.checkpoint_moved = before.flatten().is_none_or(|b| *to > b);
                tx.execute(bump, params![task.region, task.source, to, batch.now, stored, STATUS_IN_PROGRESS])?;
            }
            Progress::FileDone { key, task } => {
                let events = i64::try_from(batch.events.len()).unwrap_or(i64::MAX);
                tx.execute(
                    "INSERT INTO files (key, region, source, events, done_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (key) DO NOTHING",
                    params![key, task.region, task.source, events, batch.now],
                )?;
                tx.execute(
                    bump,
                    params![task.region, task.source, None::<i64>, batch.now, stored, STATUS_IN_PROGRESS],
                )?;
            }
        }
        tx.commit()?;
        Ok(report)
    }
}

impl Store for LocalStore {
    fn describe(&self) -> String {
        format!("local:{}", self.dir.display())
    }

    fn commit(&mut self, batch: &Batch) -> Result<CommitReport, StoreError> {
        // On any error the transaction is dropped, which rolls it back: nothing is applied.
        self.commit_tx(batch).map_err(|e| self.err("commit", e))
    }

    fn checkpoint(&self, task: &TaskKey) -> Result<Option<Checkpoint>, StoreError> {
        self.conn
            .query_row(
                "SELECT last_processed, last_execution, events_processed, status, last_error \
                 FROM checkpoints WHERE region = ?1 AND source = ?2",
                params![task.region, task.source],
                checkpoint_row,
            )
            .optional()
            .map_err(|e| self.err("checkpoint", e))
    }

    fn checkpoints(&self) -> Result<Vec<(TaskKey, Checkpoint)>, StoreError> {
        let run = || -> rusqlite::Result<Vec<(TaskKey, Checkpoint)>> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT last_processed, last_execution, events_processed, status, last_error, region, source \
                 FROM checkpoints ORDER BY region, source",
            )?;
            let rows =
                stmt.query_map([], |r| Ok((TaskKey { region: r.get(5)?, source: r.get(6)? }, checkpoint_row(r)?)))?;
            rows.collect()
        };
        run().map_err(|e| self.err("checkpoints", e))
    }

    fn record_run(&mut self, task: &TaskKey, now: i64, status: &str, error: Option<&str>) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO checkpoints (region, source, last_processed, last_execution, events_processed, status, \
                 last_error) VALUES (?1, ?2, NULL, ?3, 0, ?4, ?5) \
                 ON CONFLICT (region, source) DO UPDATE SET last_execution = excluded.last_execution, \
                 status = excluded.status, last_error = excluded.last_error",
                params![task.region, task.source, now, status, error],
            )
            .map(drop)
            .map_err(|e| self.err("record_run", e))
    }

    fn file_done(&self, key: &str) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached("SELECT 1 FROM files WHERE key = ?1")
            .and_then(|mut s| s.exists([key]))
            .map_err(|e| self.err("file_done", e))
    }

    fn files_done(&self, task: &TaskKey) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key FROM files WHERE region = ?1 AND source = ?2")
            .map_err(|e| self.err("files_done", e))?;
        let rows = stmt
            .query_map([&task.region, &task.source], |r| r.get::<_, String>(0))
            .map_err(|e| self.err("files_done", e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err("files_done", e))
    }

    fn pending_alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
        self.query_alerts(
            "pending_alerts",
            &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE sent_at IS NULL ORDER BY created_at, dedup_key"),
            &[],
        )
    }

    fn mark_sent(&mut self, dedup_key: &str, sent_at: i64) -> Result<(), StoreError> {
        // The first delivery's time is kept if a repeat delivery marks it again.
        let n = self
            .conn
            .execute(
                "UPDATE alerts SET sent_at = COALESCE(sent_at, ?2) WHERE dedup_key = ?1",
                params![dedup_key, sent_at],
            )
            .map_err(|e| self.err("mark_sent", e))?;
        if n == 0 {
            return Err(self.err("mark_sent", format!("no alert with dedup key `{dedup_key}`")));
        }
        Ok(())
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        // `since` also bounds the date (event_date is the UTC date of the event time), so the
        // primary key or an index narrows the scan to the dates that can match.
        let since_date = query.since.map(crate::timefmt::date_of);
        let from = match (&query.from_date, since_date) {
            (Some(a), Some(b)) => Some(a.clone().max(b)),
            (a, b) => a.clone().or(b),
        };
        if let Some(user) = &query.user_name {
            sql.push_str(" AND user_name = ?");
            args.push(Value::Text(user.clone()));
        }
        if let Some(name) = &query.event_name {
            sql.push_str(" AND event_name = ?");
            args.push(Value::Text(name.clone()));
        }
        if let Some(from) = from {
            sql.push_str(" AND event_date >= ?");
            args.push(Value::Text(from));
        }
        if let Some(to) = &query.to_date {
            sql.push_str(" AND event_date <= ?");
            args.push(Value::Text(to.clone()));
        }
        if let Some(since) = query.since {
            sql.push_str(" AND event_epoch >= ?");
            args.push(Value::Integer(since));
        }
        sql.push_str(" ORDER BY event_epoch, event_id");
        if let Some(limit) = query.limit {
            sql.push_str(" LIMIT ?");
            args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        }
        let run = || -> rusqlite::Result<Vec<StoredEvent>> {
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), event_row)?;
            rows.collect()
        };
        run().map_err(|e| self.err("events", e))
    }

    fn alerts(&self, since: Option<i64>) -> Result<Vec<AlertRecord>, StoreError> {
        self.query_alerts(
            "alerts",
            &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE created_at >= ?1 ORDER BY created_at, dedup_key"),
            &[Value::Integer(since.unwrap_or(i64::MIN))],
        )
    }

    fn events_page(&self, date: &str, after: Option<&str>, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let run = || -> rusqlite::Result<Vec<StoredEvent>> {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE event_date = ?1 AND event_id > ?2 ORDER BY event_id LIMIT ?3"
            ))?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt.query_map(params![date, after.unwrap_or(""), limit], event_row)?;
            rows.collect()
        };
        run().map_err(|e| self.err("events_page", e))
    }

    fn date_count(&self, date: &str) -> Result<u64, StoreError> {
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM events WHERE event_date = ?1")
            .and_then(|mut s| s.query_row([date], |r| r.get::<_, i64>(0)))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| self.err("date_count", e))
    }
}

impl LocalStore {
    fn query_alerts(&self, op: &'static str, sql: &str, args: &[Value]) -> Result<Vec<AlertRecord>, StoreError> {
        let run = || -> rusqlite::Result<Vec<AlertRecord>> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), alert_row)?;
            rows.collect()
        };
        run().map_err(|e| self.err(op, e))
    }
}

fn checkpoint_row(r: &Row<'_>) -> rusqlite::Result<Checkpoint> {
    let processed: i64 = r.get(2)?;
    Ok(Checkpoint {
        last_processed: r.get::<_, Option<i64>>(0)?.unwrap_or(0),
        last_execution: r.get(1)?,
        events_processed: u64::try_from(processed).map_err(|e| conversion(2, e))?,
        status: r.get(3)?,
        last_error: r.get(4)?,
    })
}

fn event_row(r: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    let kind: String = r.get(5)?;
    Ok(StoredEvent {
        event_date: r.get(0)?,
        event_id: r.get(1)?,
        event_time: r.get(2)?,
        event_source: r.get(3)?,
        event_name: r.get(4)?,
        event_type: parse_event_type(&kind).ok_or_else(|| conversion(5, format!("unknown event type `{kind}`")))?,
        user_name: r.get(6)?,
        identity_type: r.get(7)?,
        principal_arn: r.get(8)?,
        aws_region: r.get(9)?,
        source_ip: r.get(10)?,
        user_agent: r.get(11)?,
        error_code: r.get(12)?,
        error_message: r.get(13)?,
        recipient_account_id: r.get(14)?,
        raw: r.get(15)?,
    })
}

fn alert_row(r: &Row<'_>) -> rusqlite::Result<AlertRecord> {
    let severity: String = r.get(2)?;
    Ok(AlertRecord {
        dedup_key: r.get(0)?,
        detector: r.get(1)?,
        severity: Severity::parse(&severity).ok_or_else(|| conversion(2, format!("unknown severity `{severity}`")))?,
        title: r.get(3)?,
        event_id: r.get(4)?,
        event_time: r.get(5)?,
        payload: r.get(6)?,
        created_at: r.get(7)?,
        sent_at: r.get(8)?,
        dedup_until: r.get(9)?,
        expires_at: r.get(10)?,
    })
}

fn parse_event_type(s: &str) -> Option<EventType> {
    [EventType::Iam, EventType::Sts, EventType::Signin, EventType::Sso, EventType::Other]
        .into_iter()
        .find(|t| t.as_str() == s)
}

fn conversion(col: usize, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, e.into())
}

fn open_err(path: &Path, detail: String) -> StoreError {
    StoreError::Open { path: path.display().to_string(), detail }
}

/// Create the store's directory; new directories are private to the user on Unix (the
/// store holds CloudTrail records: source IPs, ARNs, request parameters).
fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// [`LocalStore::default_dir`] over any environment (empty values count as unset).
pub fn default_dir_from(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<PathBuf, StoreError> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = get(DATA_DIR_ENV) {
        return Ok(d);
    }
    // The XDG spec ignores relative values.
    if let Some(d) = get("XDG_DATA_HOME").filter(|d| d.is_absolute()) {
        return Ok(d.join("iam-tracker"));
    }
    if let Some(h) = get("HOME") {
        return Ok(h.join(".local/share/iam-tracker"));
    }
    Err(StoreError::Open {
        path: "the default data directory".into(),
        detail: format!("none of {DATA_DIR_ENV}, XDG_DATA_HOME or HOME is set; set one or pass --store local:DIR"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-05-01T12:00:00Z
    const NOW: i64 = 1_714_564_800;

    fn task(region: &str) -> TaskKey {
        TaskKey { region: region.into(), source: "iam.amazonaws.com".into() }
    }

    fn event(id: &str, time: &str, user: Option<&str>, name: &str) -> StoredEvent {
        StoredEvent {
            event_date: time.get(..10).unwrap_or("1970-01-01").into(),
            event_id: id.into(),
            event_time: time.into(),
            event_source: "iam.amazonaws.com".into(),
            event_name: name.into(),
            event_type: EventType::Iam,
            user_name: user.map(Into::into),
            identity_type: Some("IAMUser".into()),
            principal_arn: Some(format!("arn:aws:iam::111122223333:user/{}", user.unwrap_or("x"))),
            aws_region: Some("us-east-1".into()),
            source_ip: Some("203.0.113.9".into()),
            user_agent: None,
            error_code: None,
            error_message: None,
            recipient_account_id: Some("111122223333".into()),
            raw: format!(r#"{{"eventID":"{id}"}}"#),
        }
    }

    fn alert(key: &str, created_at: i64, window: i64) -> AlertRecord {
        AlertRecord {
            dedup_key: key.into(),
            detector: "user-creation".into(),
            severity: Severity::High,
            title: "IAM User Created".into(),
            event_id: Some("e1".into()),
            event_time: Some("2024-05-01T12:00:00Z".into()),
            payload: format!(r#"{{"dedup_key":"{key}","created":{created_at}}}"#),
            created_at,
            sent_at: None,
            dedup_until: created_at + window,
            expires_at: created_at + 30 * 86_400,
        }
    }

    fn batch(events: Vec<StoredEvent>, alerts: Vec<AlertRecord>, progress: Progress, now: i64) -> Batch {
        Batch { events, alerts, progress, task: None, now }
    }

    fn three_events() -> Vec<StoredEvent> {
        vec![
            event("e1", "2024-04-30T23:59:59Z", Some("alice"), "CreateUser"),
            event("e2", "2024-05-01T08:00:00Z", Some("bob"), "CreateAccessKey"),
            event("e3", "2024-05-01T09:30:00.250Z", Some("alice"), "CreateAccessKey"),
        ]
    }

    fn all(store: &LocalStore) -> Vec<StoredEvent> {
        store.events(&EventQuery::default()).expect("events")
    }

    #[test]
    fn recommitting_a_batch_stores_nothing_twice() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::open(tmp.path()).expect("open");
        let b = batch(
            three_events(),
            vec![alert("d:e1", NOW, 3600)],
            Progress::Checkpoint { task: task("us-east-1"), to: NOW },
            NOW,
        );
        let first = store.commit(&b).expect("first commit");
        assert_eq!(
            first,
            CommitReport {
                stored: 3,
                already_stored: 0,
                alerts_pending: 1,
                alerts_duplicate: 0,
                checkpoint_moved: true
            }
        );
        let again = store.commit(&b).expect("second commit");
        assert_eq!(
            again,
            CommitReport {
                stored: 0,
                already_stored: 3,
                alerts_pending: 0,
                alerts_duplicate: 1,
                checkpoint_moved: false
            }
        );
        assert_eq!(all(&store), three_events(), "stored exactly once, every attribute round-trips");
        assert_eq!(store.pending_alerts().expect("pending").len(), 1);
        let cp = store.checkpoint(&task("us-east-1")).expect("checkpoint").expect("exists");
        assert_eq!(cp.events_processed, 3, "re-reads do not inflate the count");
        assert_eq!((cp.last_processed, cp.last_execution), (NOW, NOW));
    }

    #[test]
    fn checkpoint_only_moves_forward_and_counts_stored_events() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::open(tmp.path()).expect("open");
        let t = task("eu-west-1");
        assert_eq!(store.checkpoint(&t).expect("read"), None, "no progress, no checkpoint");
        let r =
            store.commit(&batch(vec![], vec![], Progress::Checkpoint { task: t.clone(), to: NOW }, NOW)).expect("c1");
        assert!(r.checkpoint_moved);
        let evs = three_events();
        let r = store
            .commit(&batch(
                evs[..2].to_vec(),
                vec![],
                Progress::Checkpoint { task: t.clone(), to: NOW - 600 },
                NOW + 60,
            ))
            .expect("older slice");
        assert!(!r.checkpoint_moved, "an older `to` must not move the checkpoint back");
        let cp = store.checkpoint(&t).expect("read").expect("exists");
        assert_eq!(cp.last_processed, NOW);
        assert_eq!(cp.last_execution, NOW + 60);
        assert_eq!(cp.events_processed, 2);
        assert_eq!(cp.status, "partial", "a commit before the run's end says partial");
        // A deadline-cut slice stores events but moves nothing; its events still count.
        let partial = Batch { task: Some(t.clone()), ..batch(evs[2..].to_vec(), vec![], Progress::None, NOW + 120) };
        let r = store.commit(&partial).expect("partial slice");
        assert_eq!((r.stored, r.checkpoint_moved), (1, false));
        let cp = store.checkpoint(&t).expect("read").expect("exists");
        assert_eq!((cp.last_processed, cp.events_processed), (NOW, 3));
        // Re-reading it stores nothing and counts nothing.
        store.commit(&partial).expect("re-read");
        assert_eq!(store.checkpoint(&t).expect("read").expect("exists").events_processed, 3);
        let r = store.commit(&batch(vec![], vec![], Progress::Checkpoint { task: t.clone(), to: NOW + 1 }, NOW + 180));
        assert!(r.expect("forward").checkpoint_moved);
        assert_eq!(store.checkpoint(&t).expect("read").expect("exists").last_processed, NOW + 1);
    }

    #[test]
    fn record_run_keeps_the_checkpoint_and_a_new_task_reads_as_never() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::open(tmp.path()).expect("open");
        let (a, b) = (task("us-east-1"), task("ap-south-1"));
        store.commit(&batch(vec![], vec![], Progress::Checkpoint { task: a.clone(), to: NOW }, NOW)).expect("commit");
        store.record_run(&a, NOW + 10, "error", Some("throttled")).expect("record a");
        store.record_run(&b, NOW + 20, "ok", None).expect("record b");
        let cps = store.checkpoints().expect("all");
        assert_eq!(cps.len(), 2);
        assert_eq!(cps[0].0, b, "ordered by region");
        assert_eq!(
            cps[0].1,
            Checkpoint {
                last_processed: 0,
                last_execution: NOW + 20,
                events_processed: 0,
                status: "ok".into(),
                last_error: None
            },
            "a task that never advanced reads as last_processed 0 (never)"
        );
        assert_eq!(
            cps[1].1,
            Checkpoint {
                last_processed: NOW,
                last_execution: NOW + 10,
                events_processed: 0,
                status: "error".into(),
                last_error: Some("throttled".into()),
            }
        );
        // A later checkpoint on the never-advanced task moves it.
        let r = store.commit(&batch(vec![], vec![], Progress::Checkpoint { task: b.clone(), to: 5 }, NOW + 30));
        assert!(r.expect("commit b").checkpoint_moved);
        let cp = store.checkpoint(&b).expect("read").expect("exists");
        assert_eq!((cp.last_processed, cp.status.as_str()), (5, "ok"), "status stays what the run recorded");
    }

    #[test]
    fn file_done_is_recorded_with_its_task_count() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::open(tmp.path()).expect("open");
        let t = TaskKey { region: "trail".into(), source: "s3://bucket/AWSLogs/".into() };
        let key = "s3://bucket/AWSLogs/1/CloudTrail/us-east-1/2024/05/01/a.json.gz";
        assert!(!store.file_done(key).expect("read"));
        let r = store
            .commit(&batch(three_events(), vec![], Progress::FileDone { key: key.into(), task: t.clone() }, NOW))
            .expect("commit");
        assert_eq!((r.stored, r.checkpoint_moved), (3, false));
        assert!(store.file_done(key).expect("read"));
        assert!(!store.file_done("other").expect("read"));
        assert_eq!(store.files_done(&t).expect("read").into_iter().collect::<Vec<_>>(), vec![key.to_string()]);
        let other = TaskKey { region: "trail".into(), source: "elsewhere".into() };
        assert!(store.files_done(&other).expect("read").is_empty());
        let cp = store.checkpoint(&t).expect("read").expect("row for the task");
        assert_eq!((cp.events_processed, cp.last_processed, cp.last_execution), (3, 0, NOW));
        let (events, done_at): (i64, i64) = store
            .conn
            .query_row("SELECT events, done_at FROM files WHERE key = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("files row");
        assert_eq!((events, done_at), (3, NOW));
    }

    #[test]
    fn dedup_live_pending_and_expired_keys() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::open(tmp.path()).expect("open");
        let none = || Progress::None;
        // Two alerts with one key in one batch: the second is a duplicate.
        let r = store.commit(&batch(vec![], vec![alert("k", NOW, 3600), alert("k", NOW, 3600)], none(), NOW));
        assert_eq!(r.map(|r| (r.alerts_pending, r.alerts_duplicate)).expect("commit"), (1, 1));
        // Still pending after its window: a repeat is a duplicate (never a second pending row).
        let r = store.commit(&batch(vec![], vec![alert("k", NOW + 7200, 3600)], none(), NOW + 7200)).expect("c");
        assert_eq!((r.alerts_pending, r.alerts_duplicate), (0, 1));
        store.mark_sent("k", NOW + 7300).expect("sent");
        assert!(store.pending_alerts().expect("pending").is_empty());
        // Sent, within the window (dedup_until = NOW + 3600 > now): duplicate.
        let r = store.commit(&batch(vec![], vec![alert("k", NOW + 100, 3600)], none(), NOW + 3599)).expect("c");
        assert_eq!((r.alerts_pending, r.alerts_duplicate), (0, 1));
        // Sent and the window is over: replaced by a new pending alert.
        let r = store.commit(&batch(vec![], vec![alert("k", NOW + 3600, 3600)], none(), NOW + 3600)).expect("c");
        assert_eq!((r.alerts_pending, r.alerts_duplicate), (1, 0));
        let pending = store.pending_alerts().expect("pending");
        assert_eq!(pending.len(), 1);
        assert_eq!((pending[0].created_at, pending[0].sent_at, pending[0].dedup_until), (NOW + 3600, None, NOW + 7200));
        // Marking twice keeps the first delivery time; an unknown key is an error.
        store.mark_sent("k", NOW + 3700).expect("sent");
        store.mark_sent("k", NOW + 3800).expect("sent again");
        assert_eq!(store.alerts(None).expect("alerts")[0].sent_at, Some(NOW + 3700));
        let err = store.mark_sent("nope", NOW).expect_err("unknown key").to_string();
        assert!(err.contains("mark_sent") && err.contains("`nope`"), "{err}");
    }

    #[test]
    fn sent_alerts_expire_at_their_ttl_and_pending_ones_never_do() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::open(tmp.path()).expect("open");
        let b = batch(vec![], vec![alert("sent", NOW, 60), alert("pending", NOW, 60)], Progress::None, NOW);
        store.commit(&b).expect("commit");
        store.mark_sent("sent", NOW + 1).expect("sent");
        let later = NOW + 31 * 86_400;
        store.commit(&batch(vec![], vec![], Progress::None, later)).expect("commit later");
        let left: Vec<String> = store.alerts(None).expect("alerts").into_iter().map(|a| a.dedup_key).collect();
        assert_eq!(left, ["pending"]);
    }

    #[test]
    fn alerts_since_filters_and_orders_by_creation() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::open(tmp.path()).expect("open");
        let alerts = vec![alert("b", NOW + 10, 60), alert("a", NOW, 60), alert("c", NOW + 20, 60)];
        store.commit(&batch(vec![], alerts, Progress::None, NOW + 20)).expect("commit");
        let keys =
            |since| -> Vec<String> { store.alerts(since).expect("alerts").into_iter().map(|a| a.dedup_key).collect() };
        assert_eq!(keys(None), ["a", "b", "c"]);
        assert_eq!(keys(Some(NOW + 10)), ["b", "c"]);
        assert_eq!(store.pending_alerts().expect("pending").len(), 3);
    }

    #[test]
    fn two_handles_on_one_file_see_each_others_commits() {
        // Nothing is cached in a handle: a second process (here a second connection) sees
        // every commit, and a checkpoint decision is made on what is in the file.
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut a = LocalStore::open(tmp.path()).expect("open a");
        let mut b = LocalStore::open(tmp.path()).expect("open b");
        let t = task("us-east-1");
        let r = a.commit(&batch(
            three_events(),
            vec![alert("k", NOW, 60)],
            Progress::Checkpoint { task: t.clone(), to: NOW },
            NOW,
        ));
        assert!(r.expect("a commits").checkpoint_moved);
        let r = b
            .commit(&batch(
                three_events(),
                vec![alert("k", NOW, 60)],
                Progress::Checkpoint { task: t.clone(), to: NOW - 1 },
                NOW,
            ))
            .expect("b commits");
        assert_eq!((r.stored, r.already_stored, r.alerts_duplicate, r.checkpoint_moved), (0, 3, 1, false));
        b.mark_sent("k", NOW + 1).expect("b marks sent");
        assert!(a.pending_alerts().expect("a reads").is_empty());
        assert_eq!(a.checkpoint(&t).expect("a reads").map(|c| c.last_processed), Some(NOW));
    }

    #[test]
    fn a_failing_progress_write_rolls_back_the_whole_batch() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::open(tmp.path()).expect("open");
        store
            .conn
            .execute_batch(
                "CREATE TRIGGER fail_insert BEFORE INSERT ON checkpoints BEGIN SELECT RAISE(ABORT, 'injected'); END;",
            )
            .expect("trigger");
        let b = batch(
            three_events(),
            vec![alert("k", NOW, 60)],
            Progress::Checkpoint { task: task("us-east-1"), to: NOW },
            NOW,
        );
        let err = store.commit(&b).expect_err("the progress part fails").to_string();
        assert!(err.contains("commit") && err.contains("injected"), "{err}");
        assert!(all(&store).is_empty(), "no event of a failed batch is stored");
        assert!(store.alerts(None).expect("alerts").is_empty(), "no alert of a failed batch is recorded");
        assert_eq!(store.checkpoint(&task("us-east-1")).expect("read"), None);
        // Once the fault is gone the same batch commits whole.
        store.conn.execute_batch("DROP TRIGGER fail_insert").expect("drop trigger");
        let r = store.commit(&b).expect("commit");
        assert_eq!((r.stored, r.alerts_pending, r.checkpoint_moved), (3, 1, true));
    }

    #[test]
    fn everything_survives_reopening() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("nested/store");
        {
            let mut store = LocalStore::open(&dir).expect("open");
            let b = batch(
                three_events(),
                vec![alert("k", NOW, 60)],
                Progress::Checkpoint { task: task("us-east-1"), to: NOW },
                NOW,
            );
            store.commit(&b).expect("commit");
            let f =
                Progress::FileDone { key: "f1".into(), task: TaskKey { region: "trail".into(), source: "/t".into() } };
            store.commit(&batch(vec![], vec![], f, NOW)).expect("file");
            store.record_run(&task("us-east-1"), NOW + 5, "ok", None).expect("run");
        }
        assert!(dir.join(FILE_NAME).is_file());
        let store = LocalStore::open_existing(&dir).expect("reopen");
        assert_eq!(store.describe(), format!("local:{}", dir.display()));
        assert_eq!(all(&store), three_events());
        assert_eq!(store.pending_alerts().expect("pending")[0].dedup_key, "k");
        assert!(store.file_done("f1").expect("file"));
        let cp = store.checkpoint(&task("us-east-1")).expect("read").expect("exists");
        assert_eq!((cp.last_processed, cp.last_execution, cp.status.as_str()), (NOW, NOW + 5, "ok"));
        let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
        assert_eq!(mode, "wal");
        let sync: i64 = store.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).expect("sync");
        assert_eq!(sync, 1, "NORMAL");
    }

    #[test]
    fn queries_by_date_user_event_name_since_and_limit() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::open(tmp.path()).expect("open");
        let mut evs = three_events();
        evs.push(event("e0", "2024-04-29T10:00:00Z", None, "CreateUser"));
        evs.push(event("e4", "redacted", Some("carol"), "CreateUser"));
        store.commit(&batch(evs, vec![], Progress::None, NOW)).expect("commit");
        let q = |q: EventQuery| -> Vec<String> {
            store.events(&q).expect("query").into_iter().map(|e| e.event_id).collect()
        };
        let date = |d: &str| EventQuery { from_date: Some(d.into()), to_date: Some(d.into()), ..Default::default() };
        // Ordered by time; an event whose time is not a time sorts first.
        assert_eq!(q(EventQuery::default()), ["e4", "e0", "e1", "e2", "e3"]);
        assert_eq!(q(date("2024-05-01")), ["e2", "e3"]);
        assert_eq!(q(date("2024-04-30")), ["e1"]);
        assert_eq!(
            q(EventQuery {
                from_date: Some("2024-04-30".into()),
                to_date: Some("2024-05-01".into()),
                ..Default::default()
            }),
            ["e1", "e2", "e3"]
        );
        assert_eq!(q(EventQuery { user_name: Some("alice".into()), ..Default::default() }), ["e1", "e3"]);
        assert_eq!(q(EventQuery { event_name: Some("CreateAccessKey".into()), ..Default::default() }), ["e2", "e3"]);
        assert_eq!(
            q(EventQuery {
                user_name: Some("alice".into()),
                event_name: Some("CreateUser".into()),
                ..Default::default()
            }),
            ["e1"]
        );
        // 2024-04-30T23:59:59Z is 1_714_521_599; since is inclusive and crosses the date line.
        assert_eq!(q(EventQuery { since: Some(1_714_521_599), ..Default::default() }), ["e1", "e2", "e3"]);
        assert_eq!(q(EventQuery { since: Some(1_714_521_600), ..Default::default() }), ["e2", "e3"]);
        assert_eq!(q(EventQuery { since: Some(NOW), ..Default::default() }), Vec::<String>::new());
        assert_eq!(q(EventQuery { limit: Some(2), ..Default::default() }), ["e4", "e0"]);
        assert_eq!(q(EventQuery { user_name: Some("alice".into()), limit: Some(1), ..Default::default() }), ["e1"]);
        assert_eq!(q(EventQuery { user_name: Some("nobody".into()), ..Default::default() }), Vec::<String>::new());
    }

    #[test]
    fn a_date_partition_reads_in_id_pages_and_counts() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut store = LocalStore::open(tmp.path()).expect("open");
        let events: Vec<StoredEvent> = (0..7)
            .map(|i| event(&format!("id-{i}"), "2024-05-01T10:00:00Z", None, "GetUser"))
            .chain([event("other-day", "2024-05-02T10:00:00Z", None, "GetUser")])
            .collect();
        store.commit(&batch(events, vec![], Progress::None, 0)).expect("commit");
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.events_page("2024-05-01", after.as_deref(), 3).expect("page");
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 3);
            after = page.last().map(|e| e.event_id.clone());
            seen.extend(page.into_iter().map(|e| e.event_id));
        }
        assert_eq!(seen, (0..7).map(|i| format!("id-{i}")).collect::<Vec<_>>());
        assert_eq!(store.date_count("2024-05-01").expect("count"), 7);
        assert_eq!(store.date_count("2024-05-02").expect("count"), 1);
        assert_eq!(store.date_count("2024-05-03").expect("count"), 0);
    }

    #[test]
    fn filtered_queries_use_the_indexes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(tmp.path()).expect("open");
        let plan = |sql: &str| -> String {
            let mut stmt = store.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("plan");
            let rows = stmt.query_map([], |r| r.get::<_, String>(3)).expect("rows");
            rows.collect::<Result<Vec<_>, _>>().expect("plan rows").join("; ")
        };
        let user = plan("SELECT * FROM events WHERE user_name = 'a' AND event_date >= '2024-05-01'");
        assert!(user.contains("events_by_user"), "{user}");
        let name = plan("SELECT * FROM events WHERE event_name = 'a' AND event_date <= '2024-05-01'");
        assert!(name.contains("events_by_name"), "{name}");
        let date = plan("SELECT * FROM events WHERE event_date >= '2024-05-01' AND event_date <= '2024-05-01'");
        assert!(date.contains("sqlite_autoindex_events_1"), "{date}");
        let pending = plan("SELECT * FROM alerts WHERE sent_at IS NULL ORDER BY created_at");
        assert!(pending.contains("alerts_pending"), "{pending}");
    }

    #[test]
    fn a_file_from_a_newer_version_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        drop(LocalStore::open(tmp.path()).expect("create"));
        let conn = Connection::open(tmp.path().join(FILE_NAME)).expect("raw open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).expect("bump version");
        drop(conn);
        let err = LocalStore::open(tmp.path()).expect_err("newer schema").to_string();
        assert!(err.contains("newer iam-tracker") && err.contains("schema version 2"), "{err}");
        assert!(err.contains(FILE_NAME), "names the file: {err}");
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused_by_name() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join(FILE_NAME), vec![b'x'; 4096]).expect("write junk");
        let err = LocalStore::open(tmp.path()).expect_err("junk").to_string();
        assert!(err.starts_with("cannot open the store at") && err.contains(FILE_NAME), "{err}");
        assert!(err.contains("not a database"), "{err}");
    }

    #[test]
    fn default_dir_follows_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| std::ffi::OsString::from(v))
        };
        const ALL: &[(&str, &str)] = &[(DATA_DIR_ENV, "/data"), ("XDG_DATA_HOME", "/xdg"), ("HOME", "/home/u")];
        assert_eq!(default_dir_from(env(ALL)).expect("dir"), PathBuf::from("/data"));
        assert_eq!(default_dir_from(env(&ALL[1..])).expect("dir"), PathBuf::from("/xdg/iam-tracker"));
        assert_eq!(
            default_dir_from(env(&[(DATA_DIR_ENV, ""), ("XDG_DATA_HOME", "rel"), ("HOME", "/home/u")])).expect("dir"),
            PathBuf::from("/home/u/.local/share/iam-tracker"),
            "empty and relative values are ignored"
        );
        let err = default_dir_from(env(&[])).expect_err("nothing set").to_string();
        assert!(err.contains(DATA_DIR_ENV) && err.contains("XDG_DATA_HOME") && err.contains("HOME"), "{err}");
    }
}
