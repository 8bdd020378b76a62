//! The only place that names `aws_sdk_*`: adapters from the AWS SDK for Rust to the
//! library's traits. Everything else talks to these traits, so tests can use local servers.
