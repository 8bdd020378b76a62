//! The iam-tracker Lambda functions' shared parts, kept free of the Lambda runtime so they can
//! be unit-tested: the configuration read once at cold start ([`config`]), the CloudWatch
//! embedded-metric lines that make partial failures alarmable ([`emf`]), and the checks on
//! third-party plugins fetched from S3 ([`plugins`]).

pub mod config;
pub mod emf;
pub mod plugins;
