//! `sso-app-deletion`: not written yet.
