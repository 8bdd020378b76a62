//! `dangerous-inline-policy`: not written yet.
