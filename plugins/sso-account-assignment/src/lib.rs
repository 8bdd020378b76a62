//! `sso-account-assignment`: not written yet.
