//! `role-trust-policy`: not written yet.
