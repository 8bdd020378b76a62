//! `user-creation`: not written yet.
