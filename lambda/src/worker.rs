//! The skeleton both Lambda binaries share, apart from `lambda_runtime` itself: reading the
//! configuration at cold start, and a [`Worker`] thread that owns the function's state for the
//! life of the container.
//!
//! The state cannot live in the async handler: the plugin host and the adapters are not
//! `Send`, and the store and the S3 target block on runtimes of their own, which must not
//! happen inside the Lambda runtime's. So the worker builds the state on one plain thread at
//! cold start and runs each invocation's job there; the handler only sends the job and awaits
//! the answer.

use std::fmt::Display;
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

/// The worker thread is gone or could not start, or its cold start failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WorkerError(String);

/// A job with where to send its answer.
type Envelope<J, A> = (J, oneshot::Sender<A>);

/// A thread that owns a function's state and runs one job at a time on it.
pub struct Worker<J, A> {
    name: String,
    jobs: mpsc::Sender<Envelope<J, A>>,
}

impl<J: Send + 'static, A: Send + 'static> Worker<J, A> {
    /// Start the thread `name`. It runs `cold_start` once, which builds the state and a report
    /// for the caller, then `run` for each job [`ask`](Self::ask)ed of it. Resolves once the
    /// cold start is over: with the worker and the report, or with the cold start's error.
    pub async fn start<S, R, E>(
        name: &str,
        cold_start: impl FnOnce() -> Result<(S, R), E> + Send + 'static,
        mut run: impl FnMut(&mut S, J) -> A + Send + 'static,
    ) -> Result<(Self, R), WorkerError>
    where
        R: Send + 'static,
        E: Display,
    {
        let (jobs, inbox) = mpsc::channel::<Envelope<J, A>>();
        let (ready_tx, ready) = oneshot::channel::<Result<R, String>>();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let (mut state, report) = match cold_start() {
                    Ok(built) => built,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(report));
                for (job, reply) in inbox {
                    let _ = reply.send(run(&mut state, job));
                }
            })
            .map_err(|e| WorkerError(format!("cannot start the {name} thread: {e}")))?;
        let report = ready
            .await
            .map_err(|_| WorkerError(format!("the {name} thread ended during the cold start")))?
            .map_err(WorkerError)?;
        Ok((Self { name: name.to_string(), jobs }, report))
    }

    /// Run `job` on the worker's thread and wait for its answer.
    pub async fn ask(&self, job: J) -> Result<A, WorkerError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send((job, reply)).map_err(|_| WorkerError(format!("the {} thread has stopped", self.name)))?;
        answer.await.map_err(|_| WorkerError(format!("the {} thread dropped the run", self.name)))
    }
}

/// The configuration `read` from the environment at cold start. On an invalid variable, one
/// JSON line naming it goes to stderr (logging is not set up yet) and the error is returned, so
/// the init fails with it.
pub fn config<C, E: Display>(read: Result<C, E>) -> Result<C, E> {
    read.inspect_err(|e| {
        eprintln!("{}", serde_json::json!({"level": "ERROR", "message": format!("invalid configuration: {e}")}));
    })
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Not `Send`: the state the worker exists for.
    struct State(std::rc::Rc<std::cell::Cell<u32>>);

    #[tokio::test]
    async fn the_state_lives_on_the_thread_and_serves_every_job() {
        let (w, report) = Worker::<u32, u32>::start(
            "test",
            || Ok::<_, String>((State(Default::default()), "ready")),
            |s, job| {
                s.0.set(s.0.get() + job);
                s.0.get()
            },
        )
        .await
        .expect("start");
        assert_eq!(report, "ready");
        assert_eq!(w.ask(2).await.expect("first"), 2);
        assert_eq!(w.ask(3).await.expect("second"), 5, "the same state across jobs");
    }

    #[tokio::test]
    async fn a_failed_cold_start_is_returned() {
        let err = Worker::<u32, u32>::start("test", || Err::<(State, ()), _>("MAX_WORKERS: not a number"), |_, j| j)
            .await
            .err()
            .expect("the cold start fails");
        assert_eq!(err.to_string(), "MAX_WORKERS: not a number");
    }

    #[tokio::test]
    async fn a_panicking_cold_start_is_an_error_not_a_hang() {
        let err = Worker::<u32, u32>::start(
            "test",
            || -> Result<(State, ()), String> { panic!("boom") },
            |_, j| j,
        )
        .await
        .err()
        .expect("the cold start fails");
        assert!(err.to_string().contains("ended during the cold start"), "{err}");
    }
}
