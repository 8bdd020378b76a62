//! Logging from a plugin through the host's `log` import (stderr when run natively).

/// Log level, mirroring the WIT `host.level` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Send one line to the host log.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::bindings::detector::iam_tracker::plugin::host;
        let l = match level {
            Level::Debug => host::Level::Debug,
            Level::Info => host::Level::Info,
            Level::Warn => host::Level::Warn,
            Level::Error => host::Level::Error,
        };
        host::log(l, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        if level != Level::Debug {
            eprintln!("plugin log [{level:?}]: {message}");
        }
    }
}

pub fn debug(message: &str) {
    log(Level::Debug, message)
}

pub fn info(message: &str) {
    log(Level::Info, message)
}

pub fn warn(message: &str) {
    log(Level::Warn, message)
}

pub fn error(message: &str) {
    log(Level::Error, message)
}
