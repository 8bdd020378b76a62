//! The `tracker` Lambda function (provided.al2023, `bootstrap`): collect CloudTrail events,
//! store them, run the detectors, deduplicate and publish alerts. See `iam_tracker_lambda`.
//!
//! Cold start: config from the environment (an invalid variable fails the init, named), JSON
//! logs, then [`Tracker::cold_start`]. Each invocation: the Lambda deadline minus a safety
//! margin drives the collection deadline; the response is the run report; an EMF log line
//! carries the partial-failure metrics; every task failing returns an error, so the Lambda
//! `Errors` metric and its alarm fire.

use std::sync::Arc;
use std::time::Duration;

use iam_tracker::collect::run::RunReport;
use iam_tracker::collect::Deadline;
use iam_tracker_lambda::config::TrackerConfig;
use iam_tracker_lambda::tracker::{metrics, response, Tracker};
use iam_tracker_lambda::worker::{self, Worker};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Time kept back from the Lambda deadline for delivering alerts and answering.
const SAFETY_MARGIN: Duration = Duration::from_secs(20);

/// The tracker thread: a run's deadline in, its report and the refused plugins out.
type TrackerWorker = Worker<Deadline, Result<(RunReport, Vec<String>), String>>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = std::time::Instant::now();
    let cfg = worker::config(TrackerConfig::from_env())?;
    iam_tracker_lambda::init_logs(&cfg.log_filter);
    let (tracker, refused) = TrackerWorker::start(
        "tracker",
        move || {
            Tracker::cold_start(cfg).map(|t| {
                let refused = t.refused().len();
                (t, refused)
            })
        },
        |t: &mut Tracker, deadline| t.run(deadline).map(|r| (r, t.refused().to_vec())).map_err(|e| e.to_string()),
    )
    .await?;
    tracing::info!(init_ms = started.elapsed().as_millis() as u64, plugins_refused = refused, "cold start complete");
    let tracker = Arc::new(tracker);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let tracker = tracker.clone();
        async move { handle(&tracker, event).await }
    }))
    .await
}

async fn handle(tracker: &TrackerWorker, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let function = event.context.env_config.function_name.clone();
    let left = Duration::from_millis(event.context.deadline.saturating_sub(worker::now_ms()));
    let deadline = Deadline::after(left.saturating_sub(SAFETY_MARGIN).max(Duration::from_secs(5)));
    let (report, refused) = tracker.ask(deadline).await?.map_err(Error::from)?;
    println!("{}", iam_tracker_lambda::emf::line(&function, worker::now_ms() as i64, &metrics(&report, refused.len())));
    let body = response(&report, &refused);
    if report.all_failed() {
        tracing::error!(report = %body, "every collection task failed");
        return Err(format!("every collection task failed: {}", body["errors"]).into());
    }
    Ok(body)
}
