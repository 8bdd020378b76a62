//! CloudTrail trail log files as a source: a local folder or an S3 prefix, each file read once.
