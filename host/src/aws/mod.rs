//! The only place that names `aws_sdk_*`: adapters from the AWS SDK for Rust to the
//! library's traits. Everything else talks to these traits, so tests can use local servers.
//!
//! - [`s3`]: an S3 prefix as a source of trail files ([`crate::collect::trail::ObjectSource`]).

pub mod s3;
