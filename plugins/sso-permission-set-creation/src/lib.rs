//! `sso-permission-set-creation`: not written yet.
