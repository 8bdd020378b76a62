//! The iam-tracker Lambda functions' shared parts, kept free of the Lambda runtime so they can
//! be unit-tested: the configuration read once at cold start ([`config`]), the CloudWatch
//! embedded-metric lines that make partial failures alarmable ([`emf`]), the checks on
//! third-party plugins fetched from S3 ([`plugins`]), the tracker's cold start and run
//! ([`tracker`]), the exporter's ([`exporter`]), and the thread that owns either's state for the
//! life of the container ([`worker`]). The binaries in `src/bin/` only wire these to
//! `lambda_runtime`.

pub mod config;
pub mod emf;
pub mod exporter;
pub mod plugins;
pub mod tracker;
pub mod worker;

/// JSON logs (one object per line, as CloudWatch Logs Insights reads them) at `filter`
/// (`info`, `debug`, ...; `RUST_LOG` overrides it).
pub fn init_logs(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_writer(std::io::stderr)
        .try_init();
}
