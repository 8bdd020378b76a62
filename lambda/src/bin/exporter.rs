//! The `exporter` Lambda function (provided.al2023, `bootstrap`): export the stored events of
//! the last `EXPORT_DAYS_BACK` days to Parquet in the analytics bucket, re-exporting open and
//! changed dates and skipping closed ones, as `iam-tracker export` does. See
//! `iam_tracker_lambda::exporter`.
//!
//! Cold start: config from the environment (an invalid variable fails the init, named), JSON
//! logs, then [`Exporter::cold_start`] (the DynamoDB store and the S3 target, once). Each
//! invocation: the Lambda deadline bounds the run (a date is started only while there is time
//! for it; the rest are deferred to the next run); the response is the run report; an EMF log
//! line carries the partial-failure metrics; a run whose every attempted date failed returns
//! an error, so the Lambda `Errors` metric and its alarm fire.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_tracker_lambda::config::ExporterConfig;
use iam_tracker_lambda::exporter::{metrics, response, Exporter, Outcome};
use iam_tracker_lambda::worker::{self, Worker};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// The exporter thread: a run's clock (Unix seconds) and deadline in, its outcome out.
type ExporterWorker = Worker<(i64, Instant), Outcome>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    let cfg = worker::config(ExporterConfig::from_env())?;
    iam_tracker_lambda::init_logs(&cfg.log_filter);
    let (exporter, ()) = ExporterWorker::start(
        "exporter",
        move || Exporter::cold_start(cfg).map(|x| (x, ())),
        |x: &mut Exporter, (now, deadline)| x.run(now, deadline),
    )
    .await?;
    tracing::info!(init_ms = started.elapsed().as_millis() as u64, "cold start complete");
    let exporter = Arc::new(exporter);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let exporter = exporter.clone();
        async move { handle(&exporter, event).await }
    }))
    .await
}

async fn handle(exporter: &ExporterWorker, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let function = event.context.env_config.function_name.clone();
    let now_ms = worker::now_ms();
    let left = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
    let outcome = exporter.ask(((now_ms / 1000) as i64, Instant::now() + left)).await?;
    println!("{}", iam_tracker_lambda::emf::line(&function, worker::now_ms() as i64, &metrics(&outcome)));
    let body = response(&outcome);
    if outcome.failed() {
        tracing::error!(report = %body, "every date of the export failed");
        return Err(format!("every date of the export failed: {}", body["errors"]).into());
    }
    if body["status"] != "ok" {
        tracing::warn!(errors = %body["errors"], deferred = %body["dates_deferred"], "export finished with problems");
    }
    Ok(body)
}
