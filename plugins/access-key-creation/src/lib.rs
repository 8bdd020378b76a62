//! `access-key-creation`: not written yet.
