//! The `tracker` Lambda function (provided.al2023, `bootstrap`): collect CloudTrail events,
//! store them, run the detectors, deduplicate and publish alerts. See `iam_tracker_lambda`.
//!
//! Cold start: config from the environment (an invalid variable fails the init, named), JSON
//! logs, then [`Tracker::cold_start`]. Each invocation: the Lambda deadline minus a safety
//! margin drives the collection deadline; the response is the run report; an EMF log line
//! carries the partial-failure metrics; every task failing returns an error, so the Lambda
//! `Errors` metric and its alarm fire.

use std::sync::{Arc, Mutex};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iam_tracker::collect::run::RunReport;
use iam_tracker::collect::Deadline;
use iam_tracker_lambda::config::TrackerConfig;
use iam_tracker_lambda::tracker::{metrics, response, Tracker};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Time kept back from the Lambda deadline for delivering alerts and answering.
const SAFETY_MARGIN: Duration = Duration::from_secs(20);

/// One run asked of the tracker thread, with where to send the answer.
struct Job {
    deadline: Deadline,
    reply: tokio::sync::oneshot::Sender<Result<(RunReport, Vec<String>), String>>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = std::time::Instant::now();
    let cfg = match TrackerConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            // Logging is not set up yet: one JSON line on stderr, then fail the init.
            eprintln!("{}", serde_json::json!({"level": "ERROR", "message": format!("invalid configuration: {e}")}));
            return Err(e.into());
        }
    };
    iam_tracker_lambda::init_logs(&cfg.log_filter);
    // The plugins and the adapters are not `Send`: they live on one thread for the life of
    // the container, which runs the collections the handler asks for.
    let (jobs, inbox) = std::sync::mpsc::channel::<Job>();
    let (ready_tx, ready) = tokio::sync::oneshot::channel::<Result<usize, String>>();
    std::thread::Builder::new().name("tracker".into()).spawn(move || {
        let mut tracker = match Tracker::cold_start(cfg) {
            Ok(t) => {
                let _ = ready_tx.send(Ok(t.refused().len()));
                t
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e.to_string()));
                return;
            }
        };
        for job in inbox {
            let result = tracker.run(job.deadline).map(|r| (r, tracker.refused().to_vec())).map_err(|e| e.to_string());
            let _ = job.reply.send(result);
        }
    })?;
    let refused = ready.await.map_err(|_| "the tracker thread ended during the cold start")??;
    tracing::info!(init_ms = started.elapsed().as_millis() as u64, plugins_refused = refused, "cold start complete");
    let jobs = Arc::new(Mutex::new(jobs));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let jobs = jobs.clone();
        async move { handle(jobs, event).await }
    }))
    .await
}

async fn handle(jobs: Arc<Mutex<std::sync::mpsc::Sender<Job>>>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let function = event.context.env_config.function_name.clone();
    let deadline_ms = event.context.deadline;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let budget = Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(SAFETY_MARGIN);
    let deadline = Deadline::after(budget.max(Duration::from_secs(5)));
    let (reply, answer) = tokio::sync::oneshot::channel();
    jobs.lock()
        .map_err(|_| "the job queue is poisoned")?
        .send(Job { deadline, reply })
        .map_err(|_| "the tracker thread has stopped")?;
    let (report, refused) = answer.await.map_err(|_| "the tracker thread dropped the run")?.map_err(Error::from)?;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    println!("{}", iam_tracker_lambda::emf::line(&function, now_ms, &metrics(&report, refused.len())));
    let body = response(&report, &refused);
    if report.all_failed() {
        tracing::error!(report = %body, "every collection task failed");
        return Err(format!("every collection task failed: {}", body["errors"]).into());
    }
    Ok(body)
}
