//! The 15 queries on the local DuckDB engine over fixture Parquet (asserted rows), every
//! Athena text parsed as Trino SQL by sqlglot, and the Athena texts transpiled by sqlglot to
//! DuckDB giving the same rows as the local engine's text (equivalence of the two dialects).
//!
//! The fixture is written by DuckDB itself (`COPY ... PARTITION_BY`), typed from
//! `export::schema::COLUMNS`, in the exporter's layout
//! (`iam-events/year=YYYY/month=M/day=D/region=R/*.parquet`), so these tests do not depend on
//! the exporter. The sqlglot tests need Python with sqlglot: `$IAM_TRACKER_PYTHON`, else the
//! test venv `target/moto-venv/bin/python` (`cargo xtask moto` installs it there); they fail,
//! not skip, when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use iam_tracker::analytics::local::LocalEngine;
use iam_tracker::analytics::queries::{self, Dialect, OffHours, Params, QUERIES};
use iam_tracker::analytics::{QueryEngine, QueryResult};
use iam_tracker::export::schema::{ColumnType, COLUMNS};
use time::macros::date;

/// One fixture event; `None` fields are nulls.
#[derive(Clone, Default)]
struct Ev {
    id: &'static str,
    time: &'static str,
    name: &'static str,
    source: &'static str,
    region: Option<&'static str>,
    user: Option<&'static str>,
    ip: Option<&'static str>,
    ua: Option<&'static str>,
    error_code: Option<&'static str>,
    error_message: Option<&'static str>,
    request: Option<&'static str>,
    role_arn: Option<&'static str>,
    session: Option<&'static str>,
    policy_arn: Option<&'static str>,
    user_param: Option<&'static str>,
    identity: Option<&'static str>,
}

fn ev(
    id: &'static str,
    time: &'static str,
    name: &'static str,
    source: &'static str,
    user: Option<&'static str>,
) -> Ev {
    Ev {
        id,
        time,
        name,
        source,
        region: Some("us-east-1"),
        user,
        ua: Some("aws-cli/2.15.0"),
        identity: Some("IAMUser"),
        ..Ev::default()
    }
}

const PS1: &str = "arn:aws:sso:::permissionSet/ssoins-1/ps-0123456789abcdef";
const PS2: &str = "arn:aws:sso:::permissionSet/ssoins-1/ps-fedcba9876543210";

/// The fixture, as of Friday 2024-05-10: several days (two Saturdays), regions (one outside
/// the original's 16, one missing), users (an assumed-role name, root, a service, no user),
/// SSO changes, errors with and without a code, and off-hours times.
fn events() -> Vec<Ev> {
    const SIGNIN: &str = "signin.amazonaws.com";
    const IAM: &str = "iam.amazonaws.com";
    const STS: &str = "sts.amazonaws.com";
    const SSO: &str = "sso.amazonaws.com";
    let alice = Some("alice");
    let carol = Some("admin:carol");
    let dave = Some("dave");
    let deploy_req = r#"{"roleArn":"arn:aws:iam::123456789012:role/Deploy","roleSessionName":"bob-session"}"#;
    vec![
        Ev {
            ip: Some("1.1.1.1"),
            error_message: Some("Failed authentication"),
            ..ev("e01", "2024-05-09 10:00:00", "ConsoleLogin", SIGNIN, alice)
        },
        Ev {
            ip: Some("1.1.1.1"),
            error_message: Some("Failed authentication"),
            ..ev("e02", "2024-05-09 10:05:00", "ConsoleLogin", SIGNIN, alice)
        },
        Ev { ip: Some("1.1.1.1"), ..ev("e03", "2024-05-09 10:06:00", "ConsoleLogin", SIGNIN, alice) },
        Ev {
            ip: Some("1.1.1.1"),
            request: Some(r#"{"userName":"mallory"}"#),
            user_param: Some("mallory"),
            ..ev("e04", "2024-05-08 02:30:00", "CreateUser", IAM, alice)
        },
        Ev {
            ip: Some("1.1.1.1"),
            request: Some(r#"{"userName":"mallory","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}"#),
            user_param: Some("mallory"),
            policy_arn: Some("arn:aws:iam::aws:policy/AdministratorAccess"),
            ..ev("e05", "2024-05-08 02:45:00", "AttachUserPolicy", IAM, alice)
        },
        Ev {
            region: Some("eu-west-1"),
            ip: Some("3.3.3.3"),
            request: Some(deploy_req),
            role_arn: Some("arn:aws:iam::123456789012:role/Deploy"),
            session: Some("bob-session"),
            ..ev("e06", "2024-05-08 12:00:00", "AssumeRole", STS, Some("bob"))
        },
        Ev {
            region: Some("eu-west-1"),
            ip: Some("3.3.3.3"),
            error_code: Some("AccessDenied"),
            error_message: Some("not authorized to perform sts:AssumeRole"),
            request: Some(deploy_req),
            role_arn: Some("arn:aws:iam::123456789012:role/Deploy"),
            session: Some("bob-session"),
            ..ev("e07", "2024-05-08 12:01:00", "AssumeRole", STS, Some("bob"))
        },
        Ev {
            region: Some("us-west-2"),
            ip: Some("ec2.amazonaws.com"),
            ua: Some("ec2.amazonaws.com"),
            role_arn: Some("arn:aws:iam::123456789012:role/service/AppRole"),
            session: Some("i-0abc"),
            identity: Some("AWSService"),
            ..ev("e08", "2024-05-08 13:00:00", "AssumeRole", STS, Some("unknown"))
        },
        Ev {
            ip: Some("2.2.2.2"),
            identity: Some("Root"),
            ..ev("e09", "2024-05-04 14:00:00", "ConsoleLogin", SIGNIN, Some("root"))
        },
        Ev {
            ip: Some("2.2.2.2"),
            identity: Some("Root"),
            ..ev("e10", "2024-05-04 14:10:00", "CreateAccessKey", IAM, Some("root"))
        },
        Ev {
            ip: Some("4.4.4.4"),
            identity: Some("AssumedRole"),
            request: Some(
                r#"{"name":"Admins","description":"full admin","instanceArn":"arn:aws:sso:::instance/ssoins-1"}"#,
            ),
            ..ev("e11", "2024-04-20 09:00:00", "CreatePermissionSet", SSO, carol)
        },
        Ev {
            ip: Some("4.4.4.4"),
            identity: Some("AssumedRole"),
            request: Some(
                r#"{"managedPolicyArn":"arn:aws:iam::aws:policy/AdministratorAccess","permissionSetArn":"arn:aws:sso:::permissionSet/ssoins-1/ps-0123456789abcdef"}"#,
            ),
            ..ev("e12", "2024-04-20 09:05:00", "AttachManagedPolicyToPermissionSet", SSO, carol)
        },
        Ev {
            ip: Some("4.4.4.4"),
            identity: Some("AssumedRole"),
            request: Some(
                r#"{"principalType":"USER","principalId":"u-1","targetId":"111122223333","targetType":"AWS_ACCOUNT","permissionSetArn":"arn:aws:sso:::permissionSet/ssoins-1/ps-0123456789abcdef"}"#,
            ),
            ..ev("e13", "2024-04-20 09:10:00", "CreateAccountAssignment", SSO, carol)
        },
        Ev {
            ip: Some("4.4.4.4"),
            identity: Some("AssumedRole"),
            error_code: Some("ValidationException"),
            request: Some(r#"{"displayName":"HIDDEN_DUE_TO_SECURITY_REASONS","templateId":"tpl-1","extra":{"a":1}}"#),
            ..ev("e14", "2024-05-09 23:30:00", "CreateManagedApplicationInstance", SSO, carol)
        },
        Ev {
            ip: Some("5.5.5.5"),
            request: Some(
                r#"{"managedPolicyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess","permissionSetArn":"arn:aws:sso:::permissionSet/ssoins-1/ps-fedcba9876543210"}"#,
            ),
            ..ev("e15", "2024-05-09 23:40:00", "AttachManagedPolicyToPermissionSet", SSO, dave)
        },
        Ev {
            request: Some(r#"{"userName":"ancient"}"#),
            user_param: Some("ancient"),
            ..ev("e16", "2024-02-01 10:00:00", "CreateUser", IAM, alice)
        },
        Ev {
            region: Some("ap-east-1"),
            ip: Some("6.6.6.6"),
            ..ev("e17", "2024-05-09 11:00:00", "ListUsers", IAM, Some("erin"))
        },
        Ev {
            region: None,
            ip: Some("7.7.7.7"),
            identity: None,
            ..ev("e18", "2024-05-08 05:00:00", "GetCallerIdentity", STS, None)
        },
        Ev {
            ip: Some("4.4.4.4"),
            request: Some(
                r#"{"permissionSetArn":"arn:aws:sso:::permissionSet/ssoins-1/ps-0123456789abcdef","description":"tighter"}"#,
            ),
            ..ev("e19", "2024-05-01 08:00:00", "UpdatePermissionSet", SSO, carol)
        },
        Ev {
            ip: Some("5.5.5.5"),
            error_code: Some("AccessDeniedException"),
            request: Some(
                r#"{"principalType":"GROUP","principalId":"g-1","targetId":"111122223333","permissionSetArn":"arn:aws:sso:::permissionSet/ssoins-1/ps-fedcba9876543210"}"#,
            ),
            ..ev("e20", "2024-05-02 08:00:00", "DeleteAccountAssignment", SSO, dave)
        },
        Ev {
            request: Some(r#"{"userName":"old"}"#),
            user_param: Some("old"),
            ..ev("e21", "2024-03-01 10:00:00", "DeleteUser", IAM, alice)
        },
    ]
}

fn lit(v: Option<&str>) -> String {
    v.map_or_else(|| "NULL".to_string(), |s| format!("'{}'", s.replace('\'', "''")))
}

fn duck_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::String => "VARCHAR",
        // The exporter writes an instant (isAdjustedToUTC), which DuckDB reads as TIMESTAMPTZ.
        ColumnType::Timestamp => "TIMESTAMPTZ",
        ColumnType::Date => "DATE",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Int => "INTEGER",
    }
}

/// Write the fixture under `dir/iam-events/...` and return `dir`.
fn write_fixture(dir: &Path) {
    let conn = duckdb::Connection::open_in_memory().expect("duckdb");
    let cols: Vec<String> = COLUMNS.iter().map(|c| format!("{} {}", c.name, duck_type(c.ty))).collect();
    conn.execute_batch(&format!("CREATE TABLE t ({});", cols.join(", "))).expect("fixture table");
    for e in events() {
        let event_type = e.source.trim_end_matches(".amazonaws.com");
        let value = |name: &str| -> String {
            match name {
                "event_id" => lit(Some(e.id)),
                "event_date" => format!("CAST(TIMESTAMP '{}' AS DATE)", e.time),
                "event_time" => format!("CAST('{}+00' AS TIMESTAMPTZ)", e.time),
                "event_name" => lit(Some(e.name)),
                "event_source" => lit(Some(e.source)),
                "event_type" => lit(Some(event_type)),
                "aws_region" => lit(e.region),
                "user_name" => lit(e.user),
                "source_ip" => lit(e.ip),
                "user_agent" => lit(e.ua),
                "error_code" => lit(e.error_code),
                "error_message" => lit(e.error_message),
                "request_parameters" => lit(e.request),
                "role_arn" => lit(e.role_arn),
                "role_session_name" => lit(e.session),
                "policy_arn" => lit(e.policy_arn),
                "user_name_param" => lit(e.user_param),
                "is_error" => (e.error_code.is_some()).to_string(),
                "identity_type" => lit(e.identity),
                "principal_arn" => lit(e.user.map(|_| "arn:aws:iam::123456789012:user/x")),
                "recipient_account_id" => lit(Some("123456789012")),
                // response_elements, group_name, assumed_role_user, credentials_expiration
                _ => "NULL".to_string(),
            }
        };
        let values: Vec<String> = COLUMNS.iter().map(|c| value(c.name)).collect();
        conn.execute_batch(&format!("INSERT INTO t VALUES ({});", values.join(", "))).expect("fixture row");
    }
    let out = dir.join("iam-events").display().to_string().replace('\'', "''");
    conn.execute_batch(&format!(
        "COPY (SELECT *, year(event_date) AS year, month(event_date) AS month, day(event_date) AS day,
                      COALESCE(aws_region, 'unknown') AS region FROM t)
         TO '{out}' (FORMAT parquet, PARTITION_BY (year, month, day, region));"
    ))
    .expect("fixture parquet");
}

fn fixture_dir() -> &'static Path {
    use std::sync::OnceLock;
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("tempdir");
        write_fixture(d.path());
        // `IAM_TRACKER_QUERY_FIXTURE_OUT=DIR` keeps a copy, e.g. for the examples in
        // docs/queries.md (`iam-tracker query run NAME --data DIR --as-of 2024-05-10`).
        if let Some(out) = std::env::var_os("IAM_TRACKER_QUERY_FIXTURE_OUT") {
            std::fs::create_dir_all(&out).expect("fixture copy directory");
            write_fixture(Path::new(&out));
        }
        d
    })
    .path()
}

fn as_of() -> Params {
    Params::new(date!(2024 - 05 - 10))
}

fn run_local(name: &str, p: &Params) -> QueryResult {
    let q = queries::find(name).expect("query exists");
    let sql = queries::render(q, Dialect::DuckDb, p).expect("renders");
    let mut engine = LocalEngine::open(fixture_dir()).expect("engine");
    engine.run(name, &sql).unwrap_or_else(|e| panic!("{name}: {e}\n{sql}")).0
}

/// Rows as `|`-joined lines (`∅` for null), for readable assertions.
fn lines(r: &QueryResult) -> Vec<String> {
    r.rows.iter().map(|row| row.iter().map(|v| v.as_deref().unwrap_or("∅")).collect::<Vec<_>>().join("|")).collect()
}

fn check(name: &str, p: &Params, columns: &[&str], expected: &[&str]) {
    let r = run_local(name, p);
    assert_eq!(r.columns, columns, "{name}: columns");
    assert_eq!(lines(&r), expected, "{name}: rows");
}

#[test]
fn fixture_layout_matches_the_exporter() {
    let root = fixture_dir().join("iam-events");
    assert!(root.join("year=2024/month=5/day=9/region=us-east-1").is_dir(), "no leading zeros");
    assert!(root.join("year=2024/month=5/day=8/region=unknown").is_dir(), "missing region is `unknown`");
    let err = LocalEngine::open(&fixture_dir().join("nothing-here")).err().expect("no data is an error");
    assert!(err.to_string().contains("no exported Parquet files"), "{err}");
}

#[test]
fn view_has_the_athena_types() {
    let mut engine = LocalEngine::open(fixture_dir()).expect("engine");
    let (r, _) = engine
        .run(
            "types",
            "SELECT typeof(event_time), typeof(event_date), typeof(is_error), typeof(year), typeof(region), \
             json_extract_scalar(request_parameters, '$.extra'), json_extract_scalar(request_parameters, '$.templateId'), \
             day_of_week(event_time) FROM iam_events WHERE event_id = 'e14'",
        )
        .expect("runs");
    assert_eq!(lines(&r), ["TIMESTAMP|DATE|BOOLEAN|INTEGER|VARCHAR|∅|tpl-1|4"]);
}

#[test]
fn user_lookup() {
    let cols = [
        "user_identity",
        "first_activity",
        "last_activity",
        "total_events",
        "unique_actions",
        "days_active",
        "error_count",
    ];
    check(
        "user_lookup",
        &as_of(),
        &cols,
        &[
            "alice|2024-05-08 02:30:00|2024-05-09 10:06:00|5|3|2|0",
            "carol|2024-04-20 09:00:00|2024-05-09 23:30:00|5|5|3|1",
            "bob-session|2024-05-08 12:00:00|2024-05-08 12:01:00|2|1|1|1",
            "dave|2024-05-02 08:00:00|2024-05-09 23:40:00|2|2|2|1",
            "root|2024-05-04 14:00:00|2024-05-04 14:10:00|2|2|1|0",
            "erin|2024-05-09 11:00:00|2024-05-09 11:00:00|1|1|1|0",
        ],
    );
    let carol = Params { user: Some("carol".into()), ..as_of() };
    check("user_lookup", &carol, &cols, &["carol|2024-04-20 09:00:00|2024-05-09 23:30:00|5|5|3|1"]);
    let quote = Params { user: Some("x' OR '1'='1".into()), ..as_of() };
    check("user_lookup", &quote, &cols, &[]);
    // A 7-day window keeps only the calls from 2024-05-03 on.
    let week = Params { days: Some(7), ..as_of() };
    check(
        "user_lookup",
        &week,
        &cols,
        &[
            "alice|2024-05-08 02:30:00|2024-05-09 10:06:00|5|3|2|0",
            "bob-session|2024-05-08 12:00:00|2024-05-08 12:01:00|2|1|1|1",
            "root|2024-05-04 14:00:00|2024-05-04 14:10:00|2|2|1|0",
            "carol|2024-05-09 23:30:00|2024-05-09 23:30:00|1|1|1|1",
            "dave|2024-05-09 23:40:00|2024-05-09 23:40:00|1|1|1|0",
            "erin|2024-05-09 11:00:00|2024-05-09 11:00:00|1|1|1|0",
        ],
    );
}

#[test]
fn failed_auth() {
    check(
        "failed_auth",
        &as_of(),
        &["event_date", "user_name", "source_ip", "event_name", "error", "failure_count"],
        &[
            "2024-05-09|alice|1.1.1.1|ConsoleLogin|Failed authentication|2",
            "2024-05-08|bob|3.3.3.3|AssumeRole|AccessDenied|1",
        ],
    );
}

#[test]
fn root_usage() {
    check(
        "root_usage",
        &as_of(),
        &[
            "event_time",
            "event_name",
            "user_name",
            "source_ip",
            "user_agent",
            "aws_region",
            "error_code",
            "request_parameters",
        ],
        &[
            "2024-05-04 14:10:00|CreateAccessKey|root|2.2.2.2|aws-cli/2.15.0|us-east-1|∅|∅",
            "2024-05-04 14:00:00|ConsoleLogin|root|2.2.2.2|aws-cli/2.15.0|us-east-1|∅|∅",
        ],
    );
}

#[test]
fn off_hours() {
    let cols = ["user_identity", "event_name", "event_count", "first_occurrence", "last_occurrence"];
    // Default window: 23:00-06:00 UTC, weekdays and weekends alike by the hour only.
    check(
        "off_hours",
        &as_of(),
        &cols,
        &[
            "alice|AttachUserPolicy|1|2024-05-08 02:45:00|2024-05-08 02:45:00",
            "alice|CreateUser|1|2024-05-08 02:30:00|2024-05-08 02:30:00",
            "carol|CreateManagedApplicationInstance|1|2024-05-09 23:30:00|2024-05-09 23:30:00",
            "dave|AttachManagedPolicyToPermissionSet|1|2024-05-09 23:40:00|2024-05-09 23:40:00",
        ],
    );
    // Weekends count too: Saturday 2024-05-04 (root) and Saturday 2024-04-20 (carol).
    let weekends = Params { off_hours: OffHours { weekends: true, ..OffHours::default() }, ..as_of() };
    check(
        "off_hours",
        &weekends,
        &cols,
        &[
            "alice|AttachUserPolicy|1|2024-05-08 02:45:00|2024-05-08 02:45:00",
            "alice|CreateUser|1|2024-05-08 02:30:00|2024-05-08 02:30:00",
            "carol|AttachManagedPolicyToPermissionSet|1|2024-04-20 09:05:00|2024-04-20 09:05:00",
            "carol|CreateAccountAssignment|1|2024-04-20 09:10:00|2024-04-20 09:10:00",
            "carol|CreateManagedApplicationInstance|1|2024-05-09 23:30:00|2024-05-09 23:30:00",
            "carol|CreatePermissionSet|1|2024-04-20 09:00:00|2024-04-20 09:00:00",
            "dave|AttachManagedPolicyToPermissionSet|1|2024-05-09 23:40:00|2024-05-09 23:40:00",
            "root|ConsoleLogin|1|2024-05-04 14:00:00|2024-05-04 14:00:00",
            "root|CreateAccessKey|1|2024-05-04 14:10:00|2024-05-04 14:10:00",
        ],
    );
    // A daytime window that does not wrap midnight: 09:00-11:00.
    let daytime = Params { off_hours: OffHours { start: 9, end: 11, weekends: false }, ..as_of() };
    check(
        "off_hours",
        &daytime,
        &cols,
        &[
            "alice|ConsoleLogin|3|2024-05-09 10:00:00|2024-05-09 10:06:00",
            "alice|DeleteUser|1|2024-03-01 10:00:00|2024-03-01 10:00:00",
            "carol|AttachManagedPolicyToPermissionSet|1|2024-04-20 09:05:00|2024-04-20 09:05:00",
            "carol|CreateAccountAssignment|1|2024-04-20 09:10:00|2024-04-20 09:10:00",
            "carol|CreatePermissionSet|1|2024-04-20 09:00:00|2024-04-20 09:00:00",
        ],
    );
}

#[test]
fn active_users() {
    check(
        "active_users",
        &as_of(),
        &[
            "user_identity",
            "total_actions",
            "unique_actions",
            "active_days",
            "first_activity",
            "last_activity",
            "error_count",
        ],
        &[
            "alice|5|3|2|2024-05-08 02:30:00|2024-05-09 10:06:00|0",
            "carol|5|5|3|2024-04-20 09:00:00|2024-05-09 23:30:00|1",
            "bob-session|2|1|1|2024-05-08 12:00:00|2024-05-08 12:01:00|1",
            "dave|2|2|2|2024-05-02 08:00:00|2024-05-09 23:40:00|1",
            "root|2|2|1|2024-05-04 14:00:00|2024-05-04 14:10:00|0",
            "erin|1|1|1|2024-05-09 11:00:00|2024-05-09 11:00:00|0",
        ],
    );
}

#[test]
fn permission_changes() {
    check(
        "permission_changes",
        &as_of(),
        &["event_time", "user_name", "event_name", "target_resource", "source_ip", "error_code"],
        &[
            "2024-05-08 02:45:00|alice|AttachUserPolicy|mallory → arn:aws:iam::aws:policy/AdministratorAccess|1.1.1.1|∅",
            "2024-05-08 02:30:00|alice|CreateUser|mallory|1.1.1.1|∅",
            "2024-03-01 10:00:00|alice|DeleteUser|old|∅|∅",
        ],
    );
    // 120 days reaches the February CreateUser.
    let long = Params { days: Some(120), ..as_of() };
    assert_eq!(lines(&run_local("permission_changes", &long)).len(), 4);
}

#[test]
fn role_assumptions() {
    check(
        "role_assumptions",
        &as_of(),
        &["role_name", "assumed_by", "assumption_count", "failed_assumptions", "last_assumed"],
        &["Deploy|bob|2|1|2024-05-08 12:01:00", "AppRole|ec2|1|0|2024-05-08 13:00:00"],
    );
}

#[test]
fn daily_summary() {
    check(
        "daily_summary",
        &as_of(),
        &[
            "activity_date",
            "total_events",
            "unique_users",
            "unique_actions",
            "failed_events",
            "users_created",
            "users_deleted",
            "policy_changes",
            "role_assumptions",
        ],
        &[
            "2024-05-09|6|4|4|1|0|0|1|0",
            "2024-05-08|6|3|4|1|1|0|1|3",
            "2024-05-04|2|1|2|0|0|0|0|0",
            "2024-05-02|1|1|1|1|0|0|0|0",
            "2024-05-01|1|1|1|0|0|0|0|0",
            "2024-04-20|3|1|3|0|0|0|1|0",
            "2024-03-01|1|1|1|0|0|1|0|0",
        ],
    );
}

#[test]
fn hourly_activity() {
    check(
        "hourly_activity",
        &as_of(),
        &["hour_of_day", "total_events", "active_users", "error_events", "error_rate_pct"],
        &[
            "2|2|1|0|0.0",
            "5|1|0|0|0.0",
            "10|3|1|0|0.0",
            "11|1|1|0|0.0",
            "12|2|1|1|50.0",
            "13|1|1|0|0.0",
            "14|2|1|0|0.0",
            "23|2|2|1|50.0",
        ],
    );
}

#[test]
fn sso_permission_sets() {
    check(
        "sso_permission_sets",
        &as_of(),
        &[
            "event_time",
            "user_name",
            "event_name",
            "permission_set_name",
            "permission_set_arn",
            "description",
            "aws_region",
            "error_code",
        ],
        &[
            &format!("2024-05-01 08:00:00|admin:carol|UpdatePermissionSet|∅|{PS1}|tighter|us-east-1|∅"),
            "2024-04-20 09:00:00|admin:carol|CreatePermissionSet|Admins|∅|full admin|us-east-1|∅",
        ],
    );
}

#[test]
fn sso_account_assignments() {
    check(
        "sso_account_assignments",
        &as_of(),
        &[
            "event_time",
            "user_name",
            "event_name",
            "principal_type",
            "principal_id",
            "target_account_id",
            "permission_set_arn",
            "aws_region",
            "source_ip",
            "error_code",
        ],
        &[
            &format!(
                "2024-05-02 08:00:00|dave|DeleteAccountAssignment|GROUP|g-1|111122223333|{PS2}|us-east-1|5.5.5.5|AccessDeniedException"
            ),
            &format!(
                "2024-04-20 09:10:00|admin:carol|CreateAccountAssignment|USER|u-1|111122223333|{PS1}|us-east-1|4.4.4.4|∅"
            ),
        ],
    );
}

#[test]
fn sso_admin_policies() {
    check(
        "sso_admin_policies",
        &as_of(),
        &["event_time", "user_name", "policy", "policy_arn", "permission_set_arn", "risk_level", "aws_region", "error_code"],
        &[
            &format!(
                "2024-05-09 23:40:00|dave|ReadOnlyAccess|arn:aws:iam::aws:policy/ReadOnlyAccess|{PS2}|NORMAL|us-east-1|∅"
            ),
            &format!(
                "2024-04-20 09:05:00|admin:carol|AdministratorAccess|arn:aws:iam::aws:policy/AdministratorAccess|{PS1}|CRITICAL|us-east-1|∅"
            ),
        ],
    );
}

#[test]
fn sso_applications() {
    check(
        "sso_applications",
        &as_of(),
        &[
            "event_time",
            "user_name",
            "event_name",
            "application_name",
            "template_id",
            "start_url",
            "client_id",
            "aws_region",
            "error_code",
        ],
        &["2024-05-09 23:30:00|admin:carol|CreateManagedApplicationInstance|Unknown Application|tpl-1|∅|∅|us-east-1|ValidationException"],
    );
}

#[test]
fn sso_admin_users() {
    check(
        "sso_admin_users",
        &as_of(),
        &[
            "user_name",
            "total_admin_actions",
            "permission_sets_created",
            "permission_sets_updated",
            "policies_attached",
            "assignments_created",
            "app_changes",
            "error_count",
            "first_admin_action",
            "last_admin_action",
        ],
        &[
            "admin:carol|5|1|1|1|1|1|1|2024-04-20 09:00:00|2024-05-09 23:30:00",
            "dave|1|0|0|1|0|0|0|2024-05-09 23:40:00|2024-05-09 23:40:00",
        ],
    );
}

#[test]
fn sso_activity_summary() {
    check(
        "sso_activity_summary",
        &as_of(),
        &["event_name", "event_count", "unique_users", "error_count", "error_rate_pct", "activity_category"],
        &[
            "AttachManagedPolicyToPermissionSet|2|2|0|0.0|ADMINISTRATIVE",
            "CreateAccountAssignment|1|1|0|0.0|ADMINISTRATIVE",
            "CreateManagedApplicationInstance|1|1|1|100.0|APPLICATION_MGMT",
            "CreatePermissionSet|1|1|0|0.0|ADMINISTRATIVE",
            "DeleteAccountAssignment|1|1|1|100.0|OPERATIONAL",
            "UpdatePermissionSet|1|1|0|0.0|ADMINISTRATIVE",
        ],
    );
}

/// Python with sqlglot: `$IAM_TRACKER_PYTHON`, else the test venv.
fn python() -> PathBuf {
    let p = std::env::var_os("IAM_TRACKER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::support::root().join("target/moto-venv/bin/python"));
    let ok = Command::new(&p).args(["-c", "import sqlglot"]).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(
        ok,
        "{} cannot import sqlglot: run `cargo xtask moto` (installs moto and sqlglot into target/moto-venv) \
         or set IAM_TRACKER_PYTHON to a Python with sqlglot",
        p.display()
    );
    p
}

/// Run a sqlglot script over the rendered texts (JSON on stdin); returns its stdout.
fn sqlglot(script: &str, texts: &[(String, String)]) -> String {
    let input =
        serde_json::to_string(&texts.iter().map(|(n, s)| serde_json::json!([n, s])).collect::<Vec<_>>()).expect("json");
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("python ends");
    assert!(out.status.success(), "sqlglot script failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8")
}

fn athena_texts(p: &Params) -> Vec<(String, String)> {
    QUERIES.iter().map(|q| (q.name.to_string(), queries::render(q, Dialect::Athena, p).expect("renders"))).collect()
}

#[test]
fn every_athena_text_parses_as_trino() {
    let mut p = as_of();
    p.user = Some("o'brien".into());
    p.off_hours.weekends = true;
    let script = r#"
import json, sys, sqlglot
from sqlglot.errors import ErrorLevel
bad = []
for name, sql in json.load(sys.stdin):
    try:
        trees = sqlglot.parse(sql, read="trino", error_level=ErrorLevel.RAISE)
        assert len(trees) == 1 and trees[0] is not None, "expected one statement"
    except Exception as e:
        bad.append(f"{name}: {e}")
print(json.dumps({"checked": 15 if not bad else None, "bad": bad}))
"#;
    let out = sqlglot(script, &athena_texts(&p));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["bad"], serde_json::json!([]), "{out}");
    // A broken text must be caught: the check is not a no-op.
    let broken = vec![("broken".to_string(), "SELECT a FROM iam_events WHERE (b = 1".to_string())];
    let out = sqlglot(script, &broken);
    assert!(out.contains("broken:"), "{out}");
}

#[test]
fn athena_texts_transpiled_by_sqlglot_give_the_local_rows() {
    // The local engine runs the Athena text with compatibility macros (or a DuckDB text where
    // the definition has one). sqlglot's own Trino-to-DuckDB translation of the Athena text
    // must give the same rows: that keeps the two dialects equivalent.
    for p in [as_of(), Params { off_hours: OffHours { weekends: true, start: 22, end: 7 }, ..as_of() }] {
        let script = r#"
import json, sys, sqlglot
print(json.dumps([[n, sqlglot.transpile(s, read="trino", write="duckdb")[0]] for n, s in json.load(sys.stdin)]))
"#;
        let out = sqlglot(script, &athena_texts(&p));
        let transpiled: Vec<(String, String)> = serde_json::from_str(out.trim()).expect("json");
        assert_eq!(transpiled.len(), QUERIES.len());
        let mut engine = LocalEngine::open(fixture_dir()).expect("engine");
        for (name, sql) in transpiled {
            let ours = {
                let q = queries::find(&name).expect("query");
                engine.run(&name, &queries::render(q, Dialect::DuckDb, &p).expect("renders")).expect("local runs").0
            };
            let theirs = engine.run(&name, &sql).unwrap_or_else(|e| panic!("{name} (sqlglot): {e}\n{sql}")).0;
            assert_eq!(lines(&theirs), lines(&ours), "{name}: sqlglot's DuckDB translation differs\n{sql}");
            assert!(!ours.rows.is_empty(), "{name}: the fixture must give rows for the comparison to mean anything");
        }
    }
}

#[test]
fn ddl_parses_as_athena_ddl_with_every_column() {
    use iam_tracker::analytics::ddl::{create_table, TableSpec};
    use iam_tracker::export::schema::PARTITIONS;
    let spec =
        TableSpec { location: "s3://bucket/iam-events/".into(), database: Some("db".into()), ..TableSpec::default() };
    let script = r#"
import json, sys, sqlglot
from sqlglot.errors import ErrorLevel
(name, sql), = json.load(sys.stdin)
tree = sqlglot.parse_one(sql, read="athena", error_level=ErrorLevel.RAISE)
assert isinstance(tree, sqlglot.exp.Create), type(tree)
print(len(list(tree.find_all(sqlglot.exp.ColumnDef))))
"#;
    let out = sqlglot(script, &[("ddl".to_string(), create_table(&spec))]);
    assert_eq!(out.trim(), (COLUMNS.len() + PARTITIONS.len()).to_string(), "column definitions sqlglot found");
}
