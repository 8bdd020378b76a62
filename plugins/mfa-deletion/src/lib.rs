//! `mfa-deletion`: not written yet.
