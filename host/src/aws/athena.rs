//! The Athena engine for `query run --engine athena`: StartQueryExecution, GetQueryExecution
//! polled with backoff until the query ends, and every GetQueryResults page.
//!
//! Fixed against the original runner (`seed-original.md` §8.0b): results are paged to the end
//! (the original stopped at 1000 rows), nulls stay nulls (the original turned them into `''`),
//! FAILED and CANCELLED are errors that carry Athena's StateChangeReason, polling backs off
//! from a short first wait instead of a flat 2 s, and the timeout is a setting. The cost
//! estimate is the data scanned at [`crate::analytics::ATHENA_USD_PER_TB`] per TB.
//!
//! The client comes from the standard SDK chain ([`super::sdk_config`]); the database,
//! workgroup and output location from `ATHENA_DATABASE`, `ATHENA_WORKGROUP`,
//! `ATHENA_OUTPUT_LOCATION` (or flags). The engine's API is synchronous (the CLI is); it owns
//! a small tokio runtime.

use std::time::{Duration, Instant};

use aws_sdk_athena::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};
use aws_sdk_athena::Client;

use crate::analytics::queries::Dialect;
use crate::analytics::{QueryEngine, QueryError, QueryResult, RunStats};

/// The original's Glue database name (the SAM template's default).
pub const DEFAULT_DATABASE: &str = "iam_activity_tracker_database";
/// Athena's default workgroup.
pub const DEFAULT_WORKGROUP: &str = "primary";

/// Where and how queries run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AthenaSettings {
    /// Glue database holding `iam_events` (the query's context).
    pub database: String,
    /// Workgroup.
    pub workgroup: String,
    /// `s3://...` for the results; `None` uses the workgroup's.
    pub output_location: Option<String>,
    /// First wait between GetQueryExecution calls; doubles up to `poll_max`.
    pub poll_initial: Duration,
    /// Longest wait between GetQueryExecution calls.
    pub poll_max: Duration,
    /// Give up (and stop the query) after this long.
    pub timeout: Duration,
    /// Rows asked per GetQueryResults page (Athena allows at most 1000).
    pub page_size: i32,
}

impl Default for AthenaSettings {
    fn default() -> Self {
        AthenaSettings {
            database: DEFAULT_DATABASE.to_string(),
            workgroup: DEFAULT_WORKGROUP.to_string(),
            output_location: None,
            poll_initial: Duration::from_millis(250),
            poll_max: Duration::from_secs(3),
            timeout: Duration::from_secs(300),
            page_size: 1000,
        }
    }
}

impl AthenaSettings {
    /// Defaults overridden by `ATHENA_DATABASE`, `ATHENA_WORKGROUP`, `ATHENA_OUTPUT_LOCATION`
    /// (empty values count as unset).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let d = AthenaSettings::default();
        AthenaSettings {
            database: var("ATHENA_DATABASE").unwrap_or(d.database),
            workgroup: var("ATHENA_WORKGROUP").unwrap_or(d.workgroup),
            output_location: var("ATHENA_OUTPUT_LOCATION"),
            ..d
        }
    }
}

/// Athena as a [`QueryEngine`].
pub struct AthenaEngine {
    client: Client,
    settings: AthenaSettings,
    rt: tokio::runtime::Runtime,
}

fn api_err<E>(query: &str, operation: &'static str, e: aws_sdk_athena::error::SdkError<E>) -> QueryError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        _ => DisplayErrorContext(&e).to_string(),
    };
    QueryError::AthenaApi { query: query.to_string(), operation, detail }
}

impl AthenaEngine {
    /// An engine over `client` (tests build it against moto or a mock).
    pub fn new(client: Client, settings: AthenaSettings) -> Result<Self, QueryError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| QueryError::Config(format!("cannot start a runtime: {e}")))?;
        Ok(AthenaEngine { client, settings, rt })
    }

    /// An engine from the standard SDK chain (`endpoint` overrides every endpoint).
    pub fn from_env(endpoint: Option<&str>, settings: AthenaSettings) -> Result<Self, QueryError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| QueryError::Config(format!("cannot start a runtime: {e}")))?;
        let conf = rt.block_on(super::sdk_config(endpoint));
        let client =
            Client::from_conf(aws_sdk_athena::config::Builder::from(&conf).timeout_config(super::timeouts()).build());
        Ok(AthenaEngine { client, settings, rt })
    }

    async fn run_async(&self, name: &str, sql: &str) -> Result<(QueryResult, RunStats), QueryError> {
        let s = &self.settings;
        let started = Instant::now();
        let mut req = self
            .client
            .start_query_execution()
            .query_string(sql)
            .query_execution_context(QueryExecutionContext::builder().database(&s.database).build())
            .work_group(&s.workgroup);
        if let Some(loc) = &s.output_location {
            req = req.result_configuration(ResultConfiguration::builder().output_location(loc).build());
        }
        let out = req.send().await.map_err(|e| api_err(name, "StartQueryExecution", e))?;
        let id = out
            .query_execution_id()
            .ok_or_else(|| QueryError::AthenaApi {
                query: name.to_string(),
                operation: "StartQueryExecution",
                detail: "no QueryExecutionId in the response".into(),
            })?
            .to_string();

        let mut wait = s.poll_initial;
        let (engine_time, scanned) = loop {
            let exec = self
                .client
                .get_query_execution()
                .query_execution_id(&id)
                .send()
                .await
                .map_err(|e| api_err(name, "GetQueryExecution", e))?;
            let qe = exec.query_execution();
            let status = qe.and_then(|q| q.status());
            let state = status.and_then(|st| st.state()).cloned();
            match state {
                Some(QueryExecutionState::Succeeded) => {
                    let stats = qe.and_then(|q| q.statistics());
                    let engine = stats
                        .and_then(|st| st.engine_execution_time_in_millis())
                        .map(|ms| Duration::from_millis(ms.max(0) as u64));
                    break (engine, stats.and_then(|st| st.data_scanned_in_bytes()));
                }
                Some(st @ (QueryExecutionState::Failed | QueryExecutionState::Cancelled)) => {
                    let reason = status
                        .and_then(|st| st.state_change_reason())
                        .or_else(|| status.and_then(|st| st.athena_error()).and_then(|e| e.error_message()))
                        .unwrap_or("(Athena gave no reason)");
                    return Err(QueryError::AthenaState {
                        query: name.to_string(),
                        execution_id: id,
                        state: st.as_str().to_string(),
                        reason: reason.to_string(),
                    });
                }
                other => {
                    if started.elapsed() >= s.timeout {
                        // Do not leave it running (and billing); the error is the timeout.
                        let _ = self.client.stop_query_execution().query_execution_id(&id).send().await;
                        return Err(QueryError::Timeout {
                            query: name.to_string(),
                            execution_id: id,
                            state: other.map_or_else(|| "(no state)".to_string(), |st| st.as_str().to_string()),
                            waited: started.elapsed(),
                        });
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(s.poll_max);
                }
            }
        };

        let result = self.fetch_all(name, &id).await?;
        let stats =
            RunStats { elapsed: started.elapsed(), engine_time, data_scanned_bytes: scanned, execution_id: Some(id) };
        Ok((result, stats))
    }

    /// Every page of GetQueryResults; the header row (the first row of the first page, equal
    /// to the column names) dropped.
    async fn fetch_all(&self, name: &str, id: &str) -> Result<QueryResult, QueryError> {
        let mut result = QueryResult::default();
        let mut token: Option<String> = None;
        let mut first = true;
        loop {
            let page = self
                .client
                .get_query_results()
                .query_execution_id(id)
                .max_results(self.settings.page_size)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| api_err(name, "GetQueryResults", e))?;
            let Some(set) = page.result_set() else { break };
            if first {
                result.columns = set
                    .result_set_metadata()
                    .map(|m| m.column_info().iter().map(|c| c.name().to_string()).collect())
                    .unwrap_or_default();
            }
            for (i, row) in set.rows().iter().enumerate() {
                let values: Vec<Option<String>> =
                    row.data().iter().map(|d| d.var_char_value().map(str::to_string)).collect();
                if first && i == 0 {
                    let is_header = values.len() == result.columns.len()
                        && values.iter().zip(&result.columns).all(|(v, c)| v.as_deref() == Some(c.as_str()));
                    if is_header {
                        continue;
                    }
                }
                result.rows.push(values);
            }
            first = false;
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(result)
    }
}

impl QueryEngine for AthenaEngine {
    fn run(&mut self, name: &str, sql: &str) -> Result<(QueryResult, RunStats), QueryError> {
        self.rt.block_on(self.run_async(name, sql))
    }

    fn dialect(&self) -> Dialect {
        Dialect::Athena
    }
}

#[cfg(test)]
mod tests {
    //! Paging and FAILED, which moto cannot produce (its GetQueryResults ignores MaxResults
    //! and its queries always succeed), through aws-smithy-mocks.

    use super::*;
    use aws_sdk_athena::operation::get_query_execution::GetQueryExecutionOutput;
    use aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput;
    use aws_sdk_athena::operation::start_query_execution::StartQueryExecutionOutput;
    use aws_sdk_athena::types::{
        ColumnInfo, Datum, QueryExecution, QueryExecutionStatistics, QueryExecutionStatus, ResultSet,
        ResultSetMetadata, Row,
    };
    use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};

    fn client(rules: &[&Rule]) -> Client {
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for r in rules {
            interceptor = interceptor.with_rule(r);
        }
        let conf = aws_sdk_athena::Config::builder()
            .behavior_version(aws_sdk_athena::config::BehaviorVersion::latest())
            .region(aws_sdk_athena::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_athena::config::Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build();
        Client::from_conf(conf)
    }

    fn fast() -> AthenaSettings {
        AthenaSettings {
            poll_initial: Duration::from_millis(1),
            poll_max: Duration::from_millis(2),
            timeout: Duration::from_secs(5),
            ..AthenaSettings::default()
        }
    }

    fn row(values: &[Option<&str>]) -> Row {
        Row::builder()
            .set_data(Some(
                values
                    .iter()
                    .map(|v| match v {
                        Some(s) => Datum::builder().var_char_value(*s).build(),
                        None => Datum::builder().build(),
                    })
                    .collect(),
            ))
            .build()
    }

    fn page(first: bool, rows: Vec<Row>, next: Option<&str>) -> GetQueryResultsOutput {
        let mut all = Vec::new();
        if first {
            all.push(row(&[Some("user_name"), Some("n")]));
        }
        all.extend(rows);
        let meta = ResultSetMetadata::builder()
            .column_info(ColumnInfo::builder().name("user_name").r#type("varchar").build().expect("column"))
            .column_info(ColumnInfo::builder().name("n").r#type("bigint").build().expect("column"))
            .build();
        GetQueryResultsOutput::builder()
            .result_set(ResultSet::builder().set_rows(Some(all)).result_set_metadata(meta).build())
            .set_next_token(next.map(str::to_string))
            .build()
    }

    fn status(state: QueryExecutionState, reason: Option<&str>) -> GetQueryExecutionOutput {
        let mut st = QueryExecutionStatus::builder().state(state);
        if let Some(r) = reason {
            st = st.state_change_reason(r);
        }
        GetQueryExecutionOutput::builder()
            .query_execution(
                QueryExecution::builder()
                    .query_execution_id("q-1")
                    .status(st.build())
                    .statistics(
                        QueryExecutionStatistics::builder()
                            .data_scanned_in_bytes(2_000_000_000)
                            .engine_execution_time_in_millis(1500)
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    fn start_rule() -> Rule {
        mock!(Client::start_query_execution)
            .match_requests(|r| r.query_execution_context().and_then(|c| c.database()) == Some(DEFAULT_DATABASE))
            .then_output(|| StartQueryExecutionOutput::builder().query_execution_id("q-1").build())
    }

    #[test]
    fn polls_until_succeeded_and_pages_through_every_result() {
        let start = start_rule();
        let exec = mock!(Client::get_query_execution)
            .sequence()
            .output(|| status(QueryExecutionState::Queued, None))
            .output(|| status(QueryExecutionState::Running, None))
            .output(|| status(QueryExecutionState::Succeeded, None))
            .build();
        // 2,500 rows over three pages: more than the original's 1000-row cap.
        let results = mock!(Client::get_query_results)
            .sequence()
            .output(|| {
                let rows = (0..999).map(|i| row(&[Some(&format!("u{i}")), Some("1")])).collect();
                page(true, rows, Some("t1"))
            })
            .output(|| {
                page(false, (999..1999).map(|i| row(&[Some(&format!("u{i}")), Some("1")])).collect(), Some("t2"))
            })
            .output(|| {
                let mut rows: Vec<Row> = (1999..2499).map(|i| row(&[Some(&format!("u{i}")), Some("1")])).collect();
                rows.push(row(&[None, Some("7")]));
                page(false, rows, None)
            })
            .build();
        let mut engine = AthenaEngine::new(client(&[&start, &exec, &results]), fast()).expect("engine");
        let (r, stats) = engine.run("active_users", "SELECT 1").expect("runs");
        assert_eq!(exec.num_calls(), 3, "polled until SUCCEEDED");
        assert_eq!(results.num_calls(), 3, "every page read");
        assert_eq!(r.columns, ["user_name", "n"]);
        assert_eq!(r.rows.len(), 2500, "header dropped, nothing capped");
        assert_eq!(r.rows[0], [Some("u0".to_string()), Some("1".to_string())]);
        assert_eq!(r.rows[2499], [None, Some("7".to_string())], "a null stays null");
        assert_eq!(stats.data_scanned_bytes, Some(2_000_000_000));
        assert_eq!(stats.engine_time, Some(Duration::from_millis(1500)));
        assert_eq!(stats.execution_id.as_deref(), Some("q-1"));
        let cost = stats.estimated_cost_usd().expect("cost");
        assert!((cost - 0.01).abs() < 1e-9, "2 GB at $5/TB is $0.01, got {cost}");
        assert!(stats.summary_line().contains("estimated cost $0.010000"), "{}", stats.summary_line());
    }

    #[test]
    fn failed_query_is_an_error_with_athena_reason() {
        let start = start_rule();
        let exec = mock!(Client::get_query_execution)
            .sequence()
            .output(|| status(QueryExecutionState::Running, None))
            .output(|| {
                status(
                    QueryExecutionState::Failed,
                    Some("COLUMN_NOT_FOUND: line 3:5: Column 'aws_region' cannot be resolved"),
                )
            })
            .build();
        let results = mock!(Client::get_query_results).then_output(|| page(true, vec![], None));
        let mut engine = AthenaEngine::new(client(&[&start, &exec, &results]), fast()).expect("engine");
        let err = engine.run("root_usage", "SELECT aws_region").expect_err("FAILED is an error");
        let text = err.to_string();
        assert!(matches!(err, QueryError::AthenaState { ref state, .. } if state == "FAILED"), "{text}");
        assert!(text.contains("Column 'aws_region' cannot be resolved") && text.contains("q-1"), "{text}");
        assert_eq!(results.num_calls(), 0, "no results read for a failed query");
    }

    #[test]
    fn cancelled_and_timeout_are_errors() {
        let start = start_rule();
        let exec = mock!(Client::get_query_execution)
            .then_output(|| status(QueryExecutionState::Cancelled, Some("Query cancelled by user")));
        let mut engine = AthenaEngine::new(client(&[&start, &exec]), fast()).expect("engine");
        let err = engine.run("daily_summary", "SELECT 1").expect_err("cancelled");
        assert!(err.to_string().contains("CANCELLED: Query cancelled by user"), "{err}");

        let start = start_rule();
        let exec = mock!(Client::get_query_execution).then_output(|| status(QueryExecutionState::Running, None));
        let stop = mock!(Client::stop_query_execution).then_output(|| {
            aws_sdk_athena::operation::stop_query_execution::StopQueryExecutionOutput::builder().build()
        });
        let settings = AthenaSettings { timeout: Duration::from_millis(30), ..fast() };
        let mut engine = AthenaEngine::new(client(&[&start, &exec, &stop]), settings).expect("engine");
        let err = engine.run("daily_summary", "SELECT 1").expect_err("times out");
        assert!(matches!(err, QueryError::Timeout { .. }), "{err}");
        assert_eq!(stop.num_calls(), 1, "a timed-out query is stopped");
    }
}
