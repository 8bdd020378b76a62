//! `sso-permission-set-update`: not written yet.
