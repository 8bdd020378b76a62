//! The exported table's columns: one definition shared by the Parquet writer, the Athena DDL
//! generator and `docs/export-schema.md`.
//!
//! Data columns are in file order; the partition columns (`year`, `month`, `day`, `region`)
//! are not stored in the files, they come from the object's path
//! (`iam-events/year=YYYY/month=M/day=D/region=R/`, no leading zeros).
//!
//! Compared with the original: `event_time` is a real timestamp and `event_date` a real date
//! (the original kept both as strings and sliced them), absent facts are nulls (the original
//! wrote `''`), and `identity_type`, `principal_arn` and `recipient_account_id` are new.

/// The type of a column, as the writer and the engines see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text (Parquet BYTE_ARRAY/STRING; Athena `string`).
    String,
    /// An instant in UTC, millisecond precision (Parquet INT64 TIMESTAMP(MILLIS, UTC);
    /// Athena `timestamp`).
    Timestamp,
    /// A calendar date (Parquet INT32 DATE; Athena `date`).
    Date,
    /// Parquet BOOLEAN; Athena `boolean`.
    Boolean,
    /// A 32-bit integer (partition columns only; Athena `int`).
    Int,
}

impl ColumnType {
    /// The Athena (Hive DDL) type name.
    pub fn athena(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Date => "date",
            ColumnType::Boolean => "boolean",
            ColumnType::Int => "int",
        }
    }
}

/// One column of the exported table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// Whether the value can be null (absent in the event).
    pub nullable: bool,
    /// What it holds and where it comes from (for the schema document and DDL comments).
    pub doc: &'static str,
}

const fn col(name: &'static str, ty: ColumnType, nullable: bool, doc: &'static str) -> Column {
    Column { name, ty, nullable, doc }
}

use ColumnType::{Boolean, Date, Int, String as Str, Timestamp};

/// The data columns, in file order.
pub const COLUMNS: &[Column] = &[
    col("event_id", Str, false, "CloudTrail eventID"),
    col("event_date", Date, false, "UTC date of event_time"),
    col("event_time", Timestamp, false, "eventTime, UTC"),
    col("event_name", Str, false, "eventName (CreateUser, AssumeRole, ...)"),
    col("event_source", Str, false, "eventSource (iam.amazonaws.com, ...)"),
    col("event_type", Str, false, "iam, sts, signin, sso or other (from event_source)"),
    col("aws_region", Str, true, "awsRegion of the record"),
    col("user_name", Str, true, "the user-name extractor's answer"),
    col("source_ip", Str, true, "sourceIPAddress"),
    col("user_agent", Str, true, "userAgent"),
    col("error_code", Str, true, "errorCode; null when the call succeeded"),
    col("error_message", Str, true, "errorMessage"),
    col("request_parameters", Str, true, "requestParameters as JSON text; null when absent or null"),
    col("response_elements", Str, true, "responseElements as JSON text; null when absent or null"),
    col("role_arn", Str, true, "requestParameters.roleArn"),
    col("role_session_name", Str, true, "requestParameters.roleSessionName"),
    col("policy_arn", Str, true, "requestParameters.policyArn"),
    col("user_name_param", Str, true, "requestParameters.userName"),
    col("group_name", Str, true, "requestParameters.groupName"),
    col("assumed_role_user", Str, true, "responseElements.assumedRoleUser as JSON text"),
    col("credentials_expiration", Str, true, "responseElements.credentials.expiration, as CloudTrail wrote it"),
    col("is_error", Boolean, false, "whether error_code is present"),
    col("identity_type", Str, true, "userIdentity.type"),
    col("principal_arn", Str, true, "userIdentity.arn"),
    col("recipient_account_id", Str, true, "recipientAccountId"),
];

/// The partition columns, in path order. Values come from the object's path, not the file.
pub const PARTITIONS: &[Column] = &[
    col("year", Int, false, "year of event_date"),
    col("month", Int, false, "month of event_date, 1-12, no leading zero"),
    col("day", Int, false, "day of event_date, 1-31, no leading zero"),
    col("region", Str, false, "aws_region of the events in the file (`unknown` when absent)"),
];

/// The prefix under which the partitions live (relative to the export root).
pub const TABLE_PREFIX: &str = "iam-events";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_identifiers() {
        let mut names: Vec<&str> = COLUMNS.iter().chain(PARTITIONS).map(|c| c.name).collect();
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')), "{names:?}");
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate column name");
    }
}
