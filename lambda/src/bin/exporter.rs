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

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use iam_tracker_lambda::config::ExporterConfig;
use iam_tracker_lambda::exporter::{metrics, response, Exporter, Outcome};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// One run asked of the exporter thread, with where to send the answer.
struct Job {
    now: i64,
    deadline: Instant,
    reply: tokio::sync::oneshot::Sender<Outcome>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    let cfg = match ExporterConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            // Logging is not set up yet: one JSON line on stderr, then fail the init.
            eprintln!("{}", serde_json::json!({"level": "ERROR", "message": format!("invalid configuration: {e}")}));
            return Err(e.into());
        }
    };
    iam_tracker_lambda::init_logs(&cfg.log_filter);
    // The store and the S3 target each own a runtime and block on it, which must not happen
    // inside this async runtime: they live on one plain thread for the life of the container.
    let (jobs, inbox) = std::sync::mpsc::channel::<Job>();
    let (ready_tx, ready) = tokio::sync::oneshot::channel::<Result<(), String>>();
    std::thread::Builder::new().name("exporter".into()).spawn(move || {
        let exporter = match Exporter::cold_start(cfg) {
            Ok(x) => {
                let _ = ready_tx.send(Ok(()));
                x
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e.to_string()));
                return;
            }
        };
        for job in inbox {
            let _ = job.reply.send(exporter.run(job.now, job.deadline));
        }
    })?;
    ready.await.map_err(|_| "the exporter thread ended during the cold start")??;
    tracing::info!(init_ms = started.elapsed().as_millis() as u64, "cold start complete");
    let jobs = Arc::new(Mutex::new(jobs));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let jobs = jobs.clone();
        async move { handle(jobs, event).await }
    }))
    .await
}

async fn handle(jobs: Arc<Mutex<std::sync::mpsc::Sender<Job>>>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let function = event.context.env_config.function_name.clone();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let left = Duration::from_millis(event.context.deadline.saturating_sub(now.as_millis() as u64));
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = Job { now: now.as_secs() as i64, deadline: Instant::now() + left, reply };
    jobs.lock().map_err(|_| "the job queue is poisoned")?.send(job).map_err(|_| "the exporter thread has stopped")?;
    let outcome = answer.await.map_err(|_| "the exporter thread dropped the run")?;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    println!("{}", iam_tracker_lambda::emf::line(&function, now_ms, &metrics(&outcome)));
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
