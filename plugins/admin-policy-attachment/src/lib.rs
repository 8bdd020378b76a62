//! `admin-policy-attachment`: not written yet.
