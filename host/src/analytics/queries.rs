//! The 15 pre-built queries: one definition each (name, title, description, parameters, SQL).
//!
//! The names and intent are the original's (`seed-original.md` §8). What changed:
//! - the typed columns are used: `event_date` (DATE) and `event_time` (TIMESTAMP) instead of
//!   `substr(event_time, ...)`, `hour(event_time)` instead of `substr(event_time, 12, 2)`, and
//!   the exporter's derived columns (`role_arn`, `role_session_name`, `policy_arn`,
//!   `user_name_param`, `group_name`, `is_error`) instead of re-parsing JSON where they exist;
//! - every column a query reads is in the generated DDL (the original's DDL lacked
//!   `aws_region`, `event_source` and the derived columns);
//! - one variant per query: where the original had a `table_query` and a richer `query` that
//!   was never selected, the richer columns are kept;
//! - the time window is a parameter (`--days`, each query keeps the original's default), and
//!   on Athena it also prunes partitions (`year`/`month`/`day`), so a 7-day query does not
//!   scan every file;
//! - the off-hours window (start/end hour, UTC, and whether weekends count) is a parameter;
//! - ties in `ORDER BY` are broken by a name, so results are deterministic.
//!
//! Parameters are never interpolated as free text: the window start is a validated date, hours
//! are integers 0-23, and the user name is a quoted SQL literal with quotes doubled and
//! control characters rejected ([`sql_string`]).
//!
//! Each text runs on Athena (Trino) and on the local DuckDB engine unchanged, with a few
//! compatibility macros the local engine defines (`json_extract_scalar`, `day_of_week`; see
//! `analytics::local`). A query whose DuckDB text must differ carries it in `duckdb`; tests
//! keep the two equivalent.

use std::fmt;

use time::Date;

use crate::analytics::QueryError;

/// A SQL dialect a text is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Athena engine v3 (Trino).
    Athena,
    /// DuckDB (the local engine).
    DuckDb,
}

/// A parameter a query takes (for `query list` and validation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `--days N`: the window is the last N days (event_date >= today - N).
    Days,
    /// `--user U`: only this user (optional).
    User,
    /// `--off-hours-start H --off-hours-end H [--weekends]`.
    OffHours,
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Param::Days => "--days N",
            Param::User => "--user U",
            Param::OffHours => "--off-hours-start H --off-hours-end H --weekends",
        })
    }
}

/// One pre-built query.
#[derive(Debug, Clone, Copy)]
pub struct QueryDef {
    /// The original's name (`user_lookup`, ...).
    pub name: &'static str,
    /// The original's title.
    pub title: &'static str,
    /// What the query answers.
    pub description: &'static str,
    /// The default `--days`.
    pub default_days: u32,
    /// The parameters it uses besides `--days`.
    pub params: &'static [Param],
    /// The Athena (Trino) text, with placeholders (see [`render`]).
    pub athena: &'static str,
    /// The DuckDB text where the dialects differ; `None` runs `athena` locally.
    pub duckdb: Option<&'static str>,
}

impl QueryDef {
    /// The text for `dialect`, before rendering.
    pub fn text(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Athena => self.athena,
            Dialect::DuckDb => self.duckdb.unwrap_or(self.athena),
        }
    }
}

/// The validated parameters of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// The UTC date the window ends on (today, or a fixed date for reproducible runs).
    pub today: Date,
    /// Window length in days; `None` takes the query's default.
    pub days: Option<u32>,
    /// Only this user (user_lookup).
    pub user: Option<String>,
    /// The off-hours window.
    pub off_hours: OffHours,
}

impl Params {
    /// Defaults for `today`.
    pub fn new(today: Date) -> Self {
        Params { today, days: None, user: None, off_hours: OffHours::default() }
    }
}

/// Off-hours, in UTC: from `start` (inclusive) to `end` (exclusive), wrapping midnight when
/// `start > end`; plus all of Saturday and Sunday when `weekends`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffHours {
    /// First off hour, 0-23.
    pub start: u8,
    /// First working hour after the window, 0-23.
    pub end: u8,
    /// Whether every weekend hour counts as off-hours.
    pub weekends: bool,
}

impl Default for OffHours {
    /// The original's window: hours 23 to 05 (`hour < 6 OR hour > 22`), weekdays only.
    fn default() -> Self {
        OffHours { start: 23, end: 6, weekends: false }
    }
}

/// The longest accepted window (Athena projection starts in 2020 anyway).
pub const MAX_DAYS: u32 = 3660;

/// A SQL string literal: single quotes doubled; control characters and over-long values
/// rejected. Both Trino and DuckDB treat backslashes literally in `'...'`.
pub fn sql_string(name: &'static str, value: &str) -> Result<String, QueryError> {
    if value.is_empty() || value.len() > 256 {
        return Err(QueryError::BadParameter { name, reason: "must be 1 to 256 bytes".into() });
    }
    if value.chars().any(char::is_control) {
        return Err(QueryError::BadParameter { name, reason: "control characters are not allowed".into() });
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

/// The partition-pruning and date predicate for "on or after `since`".
fn since_filter(since: Date) -> String {
    let (y, m, d) = (since.year(), u8::from(since.month()), since.day());
    format!(
        "(year > {y} OR (year = {y} AND month > {m}) OR (year = {y} AND month = {m} AND day >= {d}))\n    \
         AND event_date >= DATE '{since}'"
    )
}

fn off_hours_filter(o: &OffHours) -> Result<String, QueryError> {
    for (name, h) in [("off-hours-start", o.start), ("off-hours-end", o.end)] {
        if h > 23 {
            return Err(QueryError::BadParameter { name, reason: format!("{h} is not an hour 0-23") });
        }
    }
    let hours = match o.start.cmp(&o.end) {
        std::cmp::Ordering::Greater => format!("hour(event_time) >= {} OR hour(event_time) < {}", o.start, o.end),
        std::cmp::Ordering::Less => format!("hour(event_time) >= {} AND hour(event_time) < {}", o.start, o.end),
        // An empty hour window: only weekends (if asked) count.
        std::cmp::Ordering::Equal => "FALSE".to_string(),
    };
    Ok(if o.weekends { format!("({hours}) OR day_of_week(event_time) IN (6, 7)") } else { hours })
}

/// Render `q`'s text for `dialect`: placeholders `{since}` (window predicate), `{user}` (a
/// literal or NULL) and `{off_hours}` (hour predicate) replaced by validated values.
pub fn render(q: &QueryDef, dialect: Dialect, p: &Params) -> Result<String, QueryError> {
    let days = p.days.unwrap_or(q.default_days);
    if days == 0 || days > MAX_DAYS {
        return Err(QueryError::BadParameter { name: "days", reason: format!("{days} is not 1 to {MAX_DAYS}") });
    }
    let since = p
        .today
        .checked_sub(time::Duration::days(i64::from(days)))
        .ok_or_else(|| QueryError::BadParameter { name: "days", reason: "window starts before year 1".into() })?;
    let user = match &p.user {
        Some(u) => sql_string("user", u)?,
        None => "CAST(NULL AS varchar)".to_string(),
    };
    let text = q.text(dialect);
    let mut out = text.replace("{since}", &since_filter(since)).replace("{user}", &user);
    if text.contains("{off_hours}") {
        out = out.replace("{off_hours}", &off_hours_filter(&p.off_hours)?);
    }
    Ok(out)
}

/// Find a query by name.
pub fn find(name: &str) -> Result<&'static QueryDef, QueryError> {
    QUERIES.iter().find(|q| q.name == name).ok_or_else(|| QueryError::UnknownQuery(name.to_string()))
}

/// The identity shown for a user: the part after `:` of an assumed-role name
/// (`role:session`), else the session name of the call, else the user name.
macro_rules! user_identity {
    () => {
        "COALESCE(NULLIF(regexp_extract(user_name, ':(.+)$', 1), ''), role_session_name, user_name)"
    };
}

/// The 15 queries, in the original's order.
pub const QUERIES: &[QueryDef] = &[
    QueryDef {
        name: "user_lookup",
        title: "User Activity Summary",
        description: "Identify and analyze user activity patterns: per user, first and last activity, \
                      events, distinct actions, active days and errors (optionally one user)",
        default_days: 30,
        params: &[Param::Days, Param::User],
        athena: concat!(
            "SELECT\n    ",
            user_identity!(),
            " AS user_identity,
    MIN(event_time) AS first_activity,
    MAX(event_time) AS last_activity,
    COUNT(*) AS total_events,
    COUNT(DISTINCT event_name) AS unique_actions,
    COUNT(DISTINCT event_date) AS days_active,
    COUNT(*) FILTER (WHERE is_error) AS error_count
FROM iam_events
WHERE {since}
    AND user_name IS NOT NULL AND user_name <> 'unknown'
    AND ({user} IS NULL OR user_name = {user} OR role_session_name = {user} OR principal_arn = {user}
         OR regexp_extract(user_name, ':(.+)$', 1) = {user})
GROUP BY 1
ORDER BY total_events DESC, user_identity
LIMIT 25"
        ),
        duckdb: None,
    },
    QueryDef {
        name: "failed_auth",
        title: "Failed Authentication Attempts",
        description: "Identify potential brute force attacks or credential issues: failed sign-ins \
                      and failed credential calls by day, user, source IP and error",
        default_days: 7,
        params: &[Param::Days],
        athena: "SELECT
    event_date,
    user_name,
    source_ip,
    event_name,
    COALESCE(error_code, error_message) AS error,
    COUNT(*) AS failure_count
FROM iam_events
WHERE {since}
    AND (is_error OR error_message IS NOT NULL)
    AND (event_name IN ('ConsoleLogin', 'AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity',
                        'GetSessionToken', 'GetFederationToken')
         OR event_source = 'signin.amazonaws.com')
GROUP BY 1, 2, 3, 4, 5
ORDER BY failure_count DESC, event_date DESC, user_name, source_ip, event_name
LIMIT 100",
        duckdb: None,
    },
    QueryDef {
        name: "root_usage",
        title: "Root Account Usage Detection",
        description: "Alert on any root account activity (a security violation): every call made \
                      as the root user",
        default_days: 90,
        params: &[Param::Days],
        athena: "SELECT
    event_time,
    event_name,
    user_name,
    source_ip,
    user_agent,
    aws_region,
    error_code,
    request_parameters
FROM iam_events
WHERE {since}
    AND (identity_type = 'Root' OR lower(user_name) = 'root')
ORDER BY event_time DESC, event_id
LIMIT 100",
        duckdb: None,
    },
    QueryDef {
        name: "off_hours",
        title: "Off-Hours Activity",
        description: "Detect after-hours access that might indicate compromise: calls by people \
                      (not AWS services) inside the off-hours window (UTC), per user and action",
        default_days: 90,
        params: &[Param::Days, Param::OffHours],
        athena: concat!(
            "SELECT\n    ",
            user_identity!(),
            " AS user_identity,
    event_name,
    COUNT(*) AS event_count,
    MIN(event_time) AS first_occurrence,
    MAX(event_time) AS last_occurrence
FROM iam_events
WHERE {since}
    AND ({off_hours})
    AND user_name IS NOT NULL AND user_name <> 'unknown'
    AND COALESCE(source_ip, '') NOT LIKE '%.amazonaws.com'
GROUP BY 1, 2
ORDER BY user_identity, event_count DESC, event_name
LIMIT 100"
        ),
        duckdb: None,
    },
    QueryDef {
        name: "active_users",
        title: "Most Active Users",
        description: "Identify power users and understand usage patterns: the 30 busiest \
                      identities with distinct actions, active days and errors",
        default_days: 30,
        params: &[Param::Days],
        athena: concat!(
            "SELECT\n    ",
            user_identity!(),
            " AS user_identity,
    COUNT(*) AS total_actions,
    COUNT(DISTINCT event_name) AS unique_actions,
    COUNT(DISTINCT event_date) AS active_days,
    MIN(event_time) AS first_activity,
    MAX(event_time) AS last_activity,
    COUNT(*) FILTER (WHERE is_error) AS error_count
FROM iam_events
WHERE {since}
    AND user_name IS NOT NULL AND user_name <> 'unknown'
GROUP BY 1
ORDER BY total_actions DESC, user_identity
LIMIT 30"
        ),
        duckdb: None,
    },
    QueryDef {
        name: "permission_changes",
        title: "Permission Changes",
        description: "Track who is modifying IAM permissions: user, role, group and policy \
                      changes with their target",
        default_days: 90,
        params: &[Param::Days],
        athena: "SELECT
    event_time,
    user_name,
    event_name,
    NULLIF(concat_ws(' → ',
        user_name_param,
        json_extract_scalar(request_parameters, '$.roleName'),
        group_name,
        json_extract_scalar(request_parameters, '$.policyName'),
        policy_arn), '') AS target_resource,
    source_ip,
    error_code
FROM iam_events
WHERE {since}
    AND event_name IN (
        'AttachUserPolicy', 'DetachUserPolicy',
        'AttachGroupPolicy', 'DetachGroupPolicy',
        'AttachRolePolicy', 'DetachRolePolicy',
        'CreateUser', 'DeleteUser',
        'CreateRole', 'DeleteRole',
        'PutUserPolicy', 'DeleteUserPolicy',
        'PutRolePolicy', 'DeleteRolePolicy',
        'PutGroupPolicy', 'DeleteGroupPolicy',
        'AddUserToGroup', 'RemoveUserFromGroup',
        'CreatePolicyVersion', 'UpdateAssumeRolePolicy'
    )
ORDER BY event_time DESC, event_id
LIMIT 100",
        duckdb: None,
    },
    QueryDef {
        name: "role_assumptions",
        title: "Role Assumption Patterns",
        description: "Understand which roles are being used and by whom: assumptions and failures \
                      per role and caller (rare pairs included: they are the interesting ones)",
        default_days: 90,
        params: &[Param::Days],
        athena: "SELECT
    COALESCE(NULLIF(regexp_extract(role_arn, '[^/]+$'), ''), role_arn) AS role_name,
    COALESCE(NULLIF(regexp_extract(user_name, ':(.+)$', 1), ''), NULLIF(user_name, 'unknown'),
             replace(user_agent, '.amazonaws.com', ''), 'AWS Service') AS assumed_by,
    COUNT(*) AS assumption_count,
    COUNT(*) FILTER (WHERE is_error) AS failed_assumptions,
    MAX(event_time) AS last_assumed
FROM iam_events
WHERE {since}
    AND event_name IN ('AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity')
    AND role_arn IS NOT NULL
GROUP BY 1, 2
ORDER BY assumption_count DESC, role_name, assumed_by
LIMIT 50",
        duckdb: None,
    },
    QueryDef {
        name: "daily_summary",
        title: "Daily Activity Summary",
        description: "Generate daily summaries for compliance reporting: per day, events, users, \
                      actions, failures, users created/deleted, policy changes, role assumptions",
        default_days: 90,
        params: &[Param::Days],
        athena: "SELECT
    event_date AS activity_date,
    COUNT(*) AS total_events,
    COUNT(DISTINCT user_name) AS unique_users,
    COUNT(DISTINCT event_name) AS unique_actions,
    COUNT(*) FILTER (WHERE is_error) AS failed_events,
    COUNT(*) FILTER (WHERE event_name = 'CreateUser') AS users_created,
    COUNT(*) FILTER (WHERE event_name = 'DeleteUser') AS users_deleted,
    COUNT(*) FILTER (WHERE event_name LIKE '%Policy%' AND (event_name LIKE 'Attach%' OR event_name LIKE 'Detach%'
        OR event_name LIKE 'Put%' OR event_name LIKE 'Delete%' OR event_name LIKE 'Create%'
        OR event_name LIKE 'Update%' OR event_name LIKE 'SetDefault%')) AS policy_changes,
    COUNT(*) FILTER (WHERE event_name LIKE 'AssumeRole%') AS role_assumptions
FROM iam_events
WHERE {since}
GROUP BY event_date
ORDER BY activity_date DESC",
        duckdb: None,
    },
    QueryDef {
        name: "hourly_activity",
        title: "Hourly Activity Distribution",
        description: "Understand peak usage hours for capacity planning: events, users and error \
                      rate per hour of day (UTC)",
        default_days: 7,
        params: &[Param::Days],
        athena: "SELECT
    hour(event_time) AS hour_of_day,
    COUNT(*) AS total_events,
    COUNT(DISTINCT user_name) AS active_users,
    COUNT(*) FILTER (WHERE is_error) AS error_events,
    round(100.0 * COUNT(*) FILTER (WHERE is_error) / COUNT(*), 2) AS error_rate_pct
FROM iam_events
WHERE {since}
GROUP BY 1
ORDER BY hour_of_day",
        duckdb: None,
    },
    QueryDef {
        name: "sso_permission_sets",
        title: "SSO Permission Set Management",
        description: "Track creation, modification and deletion of IAM Identity Center permission sets",
        default_days: 30,
        params: &[Param::Days],
        athena: "SELECT
    event_time,
    user_name,
    event_name,
    json_extract_scalar(request_parameters, '$.name') AS permission_set_name,
    json_extract_scalar(request_parameters, '$.permissionSetArn') AS permission_set_arn,
    json_extract_scalar(request_parameters, '$.description') AS description,
    aws_region,
    error_code
FROM iam_events
WHERE {since}
    AND event_type = 'sso'
    AND event_name IN ('CreatePermissionSet', 'UpdatePermissionSet', 'DeletePermissionSet')
ORDER BY event_time DESC, event_id
LIMIT 100",
        duckdb: None,
    },
    QueryDef {
        name: "sso_account_assignments",
        title: "SSO Account Assignments",
        description: "Track who is getting access to which AWS accounts via SSO: assignments \
                      created and deleted, with principal, account and permission set",
        default_days: 30,
        params: &[Param::Days],
        athena: "SELECT
    event_time,
    user_name,
    event_name,
    json_extract_scalar(request_parameters, '$.principalType') AS principal_type,
    json_extract_scalar(request_parameters, '$.principalId') AS principal_id,
    json_extract_scalar(request_parameters, '$.targetId') AS target_account_id,
    json_extract_scalar(request_parameters, '$.permissionSetArn') AS permission_set_arn,
    aws_region,
    source_ip,
    error_code
FROM iam_events
WHERE {since}
    AND event_type = 'sso'
    AND event_name IN ('CreateAccountAssignment', 'DeleteAccountAssignment')
ORDER BY event_time DESC, event_id
LIMIT 100",
        duckdb: None,
    },
    QueryDef {
        name: "sso_admin_policies",
        title: "SSO Admin Policy Attachments",
        description: "Track dangerous administrative policy attachments to permission sets, with a \
                      risk level (AdministratorAccess, PowerUserAccess, IAMFullAccess are CRITICAL)",
        default_days: 30,
        params: &[Param::Days],
        athena: "SELECT
    event_time,
    user_name,
    regexp_extract(json_extract_scalar(request_parameters, '$.managedPolicyArn'), '[^/]+$') AS policy,
    json_extract_scalar(request_parameters, '$.managedPolicyArn') AS policy_arn,
    json_extract_scalar(request_parameters, '$.permissionSetArn') AS permission_set_arn,
    CASE
        WHEN regexp_extract(json_extract_scalar(request_parameters, '$.managedPolicyArn'), '[^/]+$')
             IN ('AdministratorAccess', 'PowerUserAccess', 'IAMFullAccess') THEN 'CRITICAL'
        ELSE 'NORMAL'
    END AS risk_level,
    aws_region,
    error_code
FROM iam_events
WHERE {since}
    AND event_type = 'sso'
    AND event_name = 'AttachManagedPolicyToPermissionSet'
ORDER BY event_time DESC, event_id
LIMIT 100",
        duckdb: None,
    },
    QueryDef {
        name: "sso_applications",
        title: "SSO Application Management",
        description: "Track third-party application integrations and removal in IAM Identity Center",
        default_days: 30,
        params: &[Param::Days],
        athena: "SELECT
    event_time,
    user_name,
    event_name,
    CASE
        WHEN json_extract_scalar(request_parameters, '$.displayName') = 'HIDDEN_DUE_TO_SECURITY_REASONS'
            THEN 'Unknown Application'
        ELSE COALESCE(json_extract_scalar(request_parameters, '$.displayName'),
                      json_extract_scalar(request_parameters, '$.name'))
    END AS application_name,
    json_extract_scalar(request_parameters, '$.templateId') AS template_id,
    json_extract_scalar(request_parameters, '$.startUrl') AS start_url,
    json_extract_scalar(request_parameters, '$.clientId') AS client_id,
    aws_region,
    error_code
FROM iam_events
WHERE {since}
    AND event_type = 'sso'
    AND event_name IN ('CreateManagedApplicationInstance', 'DeleteManagedApplicationInstance',
                       'CreateApplication', 'DeleteApplication')
ORDER BY event_time DESC, event_id
LIMIT 100",
        duckdb: None,
    },
    QueryDef {
        name: "sso_admin_users",
        title: "SSO Administrative Users",
        description: "Identify users making dangerous SSO changes: per user, permission sets, \
                      policies, assignments and application changes, with first and last time",
        default_days: 90,
        params: &[Param::Days],
        athena: "SELECT
    user_name,
    COUNT(*) AS total_admin_actions,
    COUNT(*) FILTER (WHERE event_name = 'CreatePermissionSet') AS permission_sets_created,
    COUNT(*) FILTER (WHERE event_name = 'UpdatePermissionSet') AS permission_sets_updated,
    COUNT(*) FILTER (WHERE event_name = 'AttachManagedPolicyToPermissionSet') AS policies_attached,
    COUNT(*) FILTER (WHERE event_name = 'CreateAccountAssignment') AS assignments_created,
    COUNT(*) FILTER (WHERE event_name LIKE '%ManagedApplicationInstance') AS app_changes,
    COUNT(*) FILTER (WHERE is_error) AS error_count,
    MIN(event_time) AS first_admin_action,
    MAX(event_time) AS last_admin_action
FROM iam_events
WHERE {since}
    AND event_type = 'sso'
    AND event_name IN (
        'CreatePermissionSet', 'UpdatePermissionSet', 'AttachManagedPolicyToPermissionSet',
        'CreateAccountAssignment', 'CreateManagedApplicationInstance', 'DeleteManagedApplicationInstance'
    )
GROUP BY user_name
ORDER BY total_admin_actions DESC, user_name
LIMIT 50",
        duckdb: None,
    },
    QueryDef {
        name: "sso_activity_summary",
        title: "SSO Activity Overview",
        description: "Understand SSO usage patterns by event type: count, users, error rate and \
                      category (administrative, application management, operational)",
        default_days: 30,
        params: &[Param::Days],
        athena: "SELECT
    event_name,
    COUNT(*) AS event_count,
    COUNT(DISTINCT user_name) AS unique_users,
    COUNT(*) FILTER (WHERE is_error) AS error_count,
    round(100.0 * COUNT(*) FILTER (WHERE is_error) / COUNT(*), 2) AS error_rate_pct,
    CASE
        WHEN event_name IN ('CreatePermissionSet', 'UpdatePermissionSet', 'CreateAccountAssignment',
                            'AttachManagedPolicyToPermissionSet') THEN 'ADMINISTRATIVE'
        WHEN event_name IN ('CreateManagedApplicationInstance', 'DeleteManagedApplicationInstance') THEN 'APPLICATION_MGMT'
        ELSE 'OPERATIONAL'
    END AS activity_category
FROM iam_events
WHERE {since}
    AND event_type = 'sso'
GROUP BY event_name
ORDER BY event_count DESC, event_name
LIMIT 20",
        duckdb: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::schema::{COLUMNS, PARTITIONS};
    use time::macros::date;

    const NAMES: [&str; 15] = [
        "user_lookup",
        "failed_auth",
        "root_usage",
        "off_hours",
        "active_users",
        "permission_changes",
        "role_assumptions",
        "daily_summary",
        "hourly_activity",
        "sso_permission_sets",
        "sso_account_assignments",
        "sso_admin_policies",
        "sso_applications",
        "sso_admin_users",
        "sso_activity_summary",
    ];

    #[test]
    fn the_fifteen_original_names_in_order() {
        assert_eq!(QUERIES.iter().map(|q| q.name).collect::<Vec<_>>(), NAMES);
    }

    #[test]
    fn texts_use_typed_columns_not_string_slicing() {
        for q in QUERIES {
            for t in [q.athena, q.text(Dialect::DuckDb)] {
                let lower = t.to_lowercase();
                assert!(!lower.contains("substr(event_time"), "{}", q.name);
                assert!(!lower.contains("cast(current_date"), "{}", q.name);
                assert!(t.contains("{since}"), "{} has no window", q.name);
            }
        }
    }

    #[test]
    fn every_identifier_after_from_where_is_a_table_column() {
        // Each column-like word the texts use must be in the schema (the original read
        // columns its DDL did not have).
        let known: Vec<&str> = COLUMNS.iter().chain(PARTITIONS).map(|c| c.name).collect();
        for q in QUERIES {
            let p = Params::new(date!(2024 - 05 - 10));
            let sql = render(q, Dialect::Athena, &p).expect("renders");
            for word in sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                let looks_like_column = word.contains('_') && word.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                let is_function_or_alias = matches!(
                    word,
                    "json_extract_scalar"
                        | "regexp_extract"
                        | "concat_ws"
                        | "day_of_week"
                        | "user_identity"
                        | "iam_events"
                        | "first_activity"
                        | "last_activity"
                        | "total_events"
                        | "unique_actions"
                        | "days_active"
                        | "error_count"
                        | "failure_count"
                        | "event_count"
                        | "first_occurrence"
                        | "last_occurrence"
                        | "total_actions"
                        | "active_days"
                        | "target_resource"
                        | "role_name"
                        | "assumed_by"
                        | "assumption_count"
                        | "failed_assumptions"
                        | "last_assumed"
                        | "activity_date"
                        | "unique_users"
                        | "failed_events"
                        | "users_created"
                        | "users_deleted"
                        | "policy_changes"
                        | "role_assumptions"
                        | "hour_of_day"
                        | "active_users"
                        | "error_events"
                        | "error_rate_pct"
                        | "permission_set_name"
                        | "permission_set_arn"
                        | "principal_type"
                        | "principal_id"
                        | "target_account_id"
                        | "risk_level"
                        | "application_name"
                        | "template_id"
                        | "start_url"
                        | "client_id"
                        | "total_admin_actions"
                        | "permission_sets_created"
                        | "permission_sets_updated"
                        | "policies_attached"
                        | "assignments_created"
                        | "app_changes"
                        | "first_admin_action"
                        | "last_admin_action"
                        | "activity_category"
                        | "user_lookup"
                );
                if looks_like_column && !is_function_or_alias {
                    assert!(known.contains(&word), "{}: {word} is not a column", q.name);
                }
            }
        }
    }

    #[test]
    fn window_prunes_partitions_and_compares_dates() {
        let q = find("failed_auth").expect("exists");
        let sql = render(q, Dialect::Athena, &Params::new(date!(2024 - 03 - 05))).expect("renders");
        assert!(
            sql.contains("(year > 2024 OR (year = 2024 AND month > 2) OR (year = 2024 AND month = 2 AND day >= 27))")
        );
        assert!(sql.contains("event_date >= DATE '2024-02-27'"), "{sql}");
        let p = Params { days: Some(0), ..Params::new(date!(2024 - 03 - 05)) };
        assert!(matches!(render(q, Dialect::Athena, &p), Err(QueryError::BadParameter { name: "days", .. })));
    }

    #[test]
    fn user_is_a_quoted_literal() {
        let q = find("user_lookup").expect("exists");
        let p = Params { user: Some("o'brien".into()), ..Params::new(date!(2024 - 05 - 10)) };
        let sql = render(q, Dialect::Athena, &p).expect("renders");
        assert!(sql.contains("user_name = 'o''brien'"), "{sql}");
        let p = Params { user: Some("a\nb".into()), ..p };
        assert!(render(q, Dialect::Athena, &p).is_err());
        let none = render(q, Dialect::Athena, &Params::new(date!(2024 - 05 - 10))).expect("renders");
        assert!(none.contains("CAST(NULL AS varchar) IS NULL"));
    }

    #[test]
    fn off_hours_window_wraps_midnight_and_counts_weekends() {
        let wrap = OffHours { start: 22, end: 7, weekends: false };
        assert_eq!(off_hours_filter(&wrap).expect("ok"), "hour(event_time) >= 22 OR hour(event_time) < 7");
        let day = OffHours { start: 1, end: 5, weekends: true };
        assert_eq!(
            off_hours_filter(&day).expect("ok"),
            "(hour(event_time) >= 1 AND hour(event_time) < 5) OR day_of_week(event_time) IN (6, 7)"
        );
        assert!(off_hours_filter(&OffHours { start: 24, end: 5, weekends: false }).is_err());
    }
}
