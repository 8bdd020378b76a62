//! `--store` values: which store a command uses, parsed in one place for every command.
//!
//! Accepted forms: `local:DIR` (the embedded SQLite store in `DIR`). Without `--store` the
//! local store in [`LocalStore::default_dir`] is used. `dynamodb:...` arrives with the AWS
//! backends and is refused with a message saying so.

use std::fmt;
use std::path::PathBuf;

use super::local::LocalStore;
use super::{Store, StoreError};

/// What `--store` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// The embedded store in this directory.
    Local(PathBuf),
}

/// A `--store` value that names no store this build has.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("`{0}` is not a store: expected local:DIR")]
    Unknown(String),
    #[error("`{0}` needs a directory after `local:` (local:DIR)")]
    EmptyDir(String),
    #[error("`{0}`: the DynamoDB store is not available in this build yet; use local:DIR")]
    NotYet(String),
}

impl StoreSpec {
    /// Parse `local:DIR`.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
        match kind {
            "local" if rest.is_empty() => Err(SpecError::EmptyDir(text.to_string())),
            "local" => Ok(StoreSpec::Local(PathBuf::from(rest))),
            "dynamodb" => Err(SpecError::NotYet(text.to_string())),
            _ => Err(SpecError::Unknown(text.to_string())),
        }
    }

    /// The store used without `--store`: the local store in the default data directory.
    pub fn default_local() -> Result<Self, StoreError> {
        LocalStore::default_dir().map(StoreSpec::Local)
    }

    /// Open the store, creating it when missing (for commands that write). The box is
    /// `Send` so the store can move to the processing thread; it coerces to `Box<dyn Store>`.
    pub fn open(&self) -> Result<Box<dyn Store + Send>, StoreError> {
        match self {
            StoreSpec::Local(dir) => Ok(Box::new(LocalStore::open(dir)?)),
        }
    }

    /// Open a store that must exist (for read-back commands).
    pub fn open_existing(&self) -> Result<Box<dyn Store + Send>, StoreError> {
        match self {
            StoreSpec::Local(dir) => Ok(Box::new(LocalStore::open_existing(dir)?)),
        }
    }
}

impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreSpec::Local(dir) => write!(f, "local:{}", dir.display()),
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
        assert_eq!(msg("foo:bar"), "`foo:bar` is not a store: expected local:DIR");
        assert_eq!(msg("/tmp/x"), "`/tmp/x` is not a store: expected local:DIR");
        assert_eq!(msg("local:"), "`local:` needs a directory after `local:` (local:DIR)");
        assert!(msg("dynamodb:my-stack").contains("not available in this build yet"), "{}", msg("dynamodb"));
        assert!(msg("dynamodb").contains("use local:DIR"));
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
