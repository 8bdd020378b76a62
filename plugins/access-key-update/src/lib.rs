//! `access-key-update`: not written yet.
