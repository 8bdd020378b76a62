//! `--store` values: which store a command uses, parsed in one place for every command.
//!
//! Accepted forms: `local:DIR` (the embedded SQLite store in `DIR`), `dynamodb` (the DynamoDB
//! store, table names from `EVENTS_TABLE_NAME`, `CONTROL_TABLE_NAME`, `ALERTS_TABLE_NAME`) and
//! `dynamodb:STACK` (tables `STACK-events`, `STACK-control`, `STACK-alerts`). Without `--store`
//! the local store in [`LocalStore::default_dir`] is used. A build without the `aws` feature
//! parses `dynamodb` but refuses to open it, saying why.

use std::fmt;
use std::path::PathBuf;

use super::local::LocalStore;
use super::{Store, StoreError};

/// What `--store` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// The embedded store in this directory.
    Local(PathBuf),
    /// The DynamoDB store: the stack's tables, or (`None`) the tables named by the environment.
    DynamoDb { stack: Option<String> },
}

/// A `--store` value that names no store this build has.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("`{0}` is not a store: expected local:DIR, dynamodb or dynamodb:STACK")]
    Unknown(String),
    #[error("`{0}` needs a directory after `local:` (local:DIR)")]
    EmptyDir(String),
    #[error(
        "`{0}`: a stack name is 1-248 letters, digits, `_`, `-` or `.` (the tables are STACK-events, \
         STACK-control, STACK-alerts)"
    )]
    BadStack(String),
}

impl StoreSpec {
    /// Parse `local:DIR`, `dynamodb` or `dynamodb:STACK`.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let (kind, rest) = match text.split_once(':') {
            Some((k, r)) => (k, Some(r)),
            None => (text, None),
        };
        match (kind, rest) {
            ("local", None | Some("")) => Err(SpecError::EmptyDir(text.to_string())),
            ("local", Some(dir)) => Ok(StoreSpec::Local(PathBuf::from(dir))),
            ("dynamodb", None) => Ok(StoreSpec::DynamoDb { stack: None }),
            ("dynamodb", Some(stack)) => {
                // Table names: 3-255 of [A-Za-z0-9_.-]; the longest suffix is `-control`.
                let ok = !stack.is_empty()
                    && stack.len() <= 248
                    && stack.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
                if ok {
                    Ok(StoreSpec::DynamoDb { stack: Some(stack.to_string()) })
                } else {
                    Err(SpecError::BadStack(text.to_string()))
                }
            }
            _ => Err(SpecError::Unknown(text.to_string())),
        }
    }

    /// The store used without `--store`: the local store in the default data directory.
    pub fn default_local() -> Result<Self, StoreError> {
        LocalStore::default_dir().map(StoreSpec::Local)
    }

    /// Open the store, creating it when missing (for commands that write). The box is
    /// `Send` so the store can move to the processing thread; it coerces to `Box<dyn Store>`.
    /// AWS stores use the standard SDK chain; see [`StoreSpec::open_at`] for an endpoint.
    pub fn open(&self) -> Result<Box<dyn Store + Send>, StoreError> {
        self.open_at(None)
    }

    /// Open a store that must exist (for read-back commands).
    pub fn open_existing(&self) -> Result<Box<dyn Store + Send>, StoreError> {
        self.open_existing_at(None)
    }

    /// [`StoreSpec::open`], with every AWS request sent to `endpoint` when given (a local
    /// server; `--endpoint-url`). DynamoDB tables are never created here (`iam-tracker init`
    /// does that): a missing table is an error naming it.
    pub fn open_at(&self, endpoint: Option<&str>) -> Result<Box<dyn Store + Send>, StoreError> {
        match self {
            StoreSpec::Local(dir) => Ok(Box::new(LocalStore::open(dir)?)),
            StoreSpec::DynamoDb { .. } => self.open_dynamodb(endpoint),
        }
    }

    /// [`StoreSpec::open_existing`] with an endpoint override, as [`StoreSpec::open_at`].
    pub fn open_existing_at(&self, endpoint: Option<&str>) -> Result<Box<dyn Store + Send>, StoreError> {
        match self {
            StoreSpec::Local(dir) => Ok(Box::new(LocalStore::open_existing(dir)?)),
            StoreSpec::DynamoDb { .. } => self.open_dynamodb(endpoint),
        }
    }

    /// The DynamoDB store of this spec, tables checked, not created.
    #[cfg(feature = "aws")]
    pub fn dynamodb(&self, endpoint: Option<&str>) -> Result<crate::aws::dynamodb::DynamoStore, StoreError> {
        use crate::aws::dynamodb::{DynamoOptions, DynamoStore, TableNames};
        let tables = match self {
            StoreSpec::DynamoDb { stack: Some(stack) } => TableNames::for_stack(stack),
            StoreSpec::DynamoDb { stack: None } => TableNames::from_env()?,
            StoreSpec::Local(_) => {
                return Err(StoreError::Open { path: self.to_string(), detail: "not a DynamoDB store".into() })
            }
        };
        DynamoStore::connect(tables, self.to_string(), endpoint, DynamoOptions::from_env()?)
    }

    #[cfg(feature = "aws")]
    fn open_dynamodb(&self, endpoint: Option<&str>) -> Result<Box<dyn Store + Send>, StoreError> {
        let store = self.dynamodb(endpoint)?;
        store.check_tables()?;
        Ok(Box::new(store))
    }

    #[cfg(not(feature = "aws"))]
    fn open_dynamodb(&self, _endpoint: Option<&str>) -> Result<Box<dyn Store + Send>, StoreError> {
        Err(StoreError::Open {
            path: self.to_string(),
            detail: "this build has no AWS support (feature `aws`); use local:DIR".into(),
        })
    }
}

impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreSpec::Local(dir) => write!(f, "local:{}", dir.display()),
            StoreSpec::DynamoDb { stack: None } => f.write_str("dynamodb"),
            StoreSpec::DynamoDb { stack: Some(s) } => write!(f, "dynamodb:{s}"),
        }
    }
}

impl std::str::FromStr for StoreSpec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        StoreSpec::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dir_parses_and_prints_back() {
        let s = StoreSpec::parse("local:/var/lib/iam").expect("local spec");
        assert_eq!(s, StoreSpec::Local(PathBuf::from("/var/lib/iam")));
        assert_eq!(s.to_string(), "local:/var/lib/iam");
        // Colons after the first belong to the path.
        assert_eq!(StoreSpec::parse("local:C:/x").ok(), Some(StoreSpec::Local(PathBuf::from("C:/x"))));
    }

    #[test]
    fn bad_specs_name_the_value_and_the_accepted_forms() {
        let msg = |t: &str| StoreSpec::parse(t).expect_err("refused").to_string();
        assert_eq!(msg("foo:bar"), "`foo:bar` is not a store: expected local:DIR, dynamodb or dynamodb:STACK");
        assert_eq!(msg("/tmp/x"), "`/tmp/x` is not a store: expected local:DIR, dynamodb or dynamodb:STACK");
        assert_eq!(msg("local:"), "`local:` needs a directory after `local:` (local:DIR)");
        assert_eq!(msg("local"), "`local` needs a directory after `local:` (local:DIR)");
        assert!(msg("dynamodb:").contains("a stack name is"), "{}", msg("dynamodb:"));
        assert!(msg("dynamodb:a/b").contains("`dynamodb:a/b`"));
    }

    #[test]
    fn dynamodb_specs_parse_and_print_back() {
        assert_eq!(StoreSpec::parse("dynamodb").ok(), Some(StoreSpec::DynamoDb { stack: None }));
        let s = StoreSpec::parse("dynamodb:iam-tracker.prod_1").expect("stack");
        assert_eq!(s, StoreSpec::DynamoDb { stack: Some("iam-tracker.prod_1".into()) });
        assert_eq!(s.to_string(), "dynamodb:iam-tracker.prod_1");
        assert_eq!(StoreSpec::DynamoDb { stack: None }.to_string(), "dynamodb");
    }

    #[cfg(not(feature = "aws"))]
    #[test]
    fn a_build_without_aws_refuses_dynamodb_saying_why() {
        let err = StoreSpec::parse("dynamodb:s").expect("parses").open().err().expect("refused").to_string();
        assert!(err.contains("no AWS support"), "{err}");
    }

    #[cfg(feature = "aws")]
    #[test]
    fn plain_dynamodb_names_the_missing_variable() {
        if std::env::var_os(crate::aws::dynamodb::EVENTS_TABLE_ENV).is_some() {
            return; // The variable is set in this environment; the unit test of from_env_with covers it.
        }
        let err = StoreSpec::parse("dynamodb").expect("parses").open().err().expect("refused").to_string();
        assert!(err.contains("EVENTS_TABLE_NAME is not set"), "{err}");
    }

    #[test]
    fn open_creates_and_open_existing_refuses_a_missing_store() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let spec = StoreSpec::Local(tmp.path().join("s"));
        let err = spec.open_existing().err().expect("nothing there yet").to_string();
        assert!(err.contains("nothing was collected into it yet"), "{err}");
        assert_eq!(spec.open().expect("created").describe(), spec.to_string());
        assert!(spec.open_existing().is_ok());
    }
}
