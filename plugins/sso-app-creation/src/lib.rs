//! `sso-app-creation`: not written yet.
