//! Guest SDK for iam-tracker plugins.
//!
//! A plugin crate is a pure rule plus one macro call:
//!
//! ```text
//! use iam_tracker_plugin_sdk::prelude::*;
//!
//! #[derive(Default)]
//! pub struct MyRule;
//!
//! impl Detector for MyRule {
//!     fn info() -> PluginInfo { /* id, version, subscriptions ... */ }
//!     fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> { Ok(vec![]) }
//! }
//!
//! iam_tracker_plugin_sdk::export_detector!(MyRule);
//! ```
//!
//! The SDK owns the WIT bindings (`wit-bindgen`, only compiled for `wasm32`), so plugin
//! crates need none of their own. Natively (under `cargo test`) the same rule runs over
//! [`NativeEvent`], a `serde_json`-backed event with the host's getter semantics, and
//! [`testing`] runs a plugin's `cases/` folder.

pub mod arn;
pub mod config;
pub mod event;
pub mod identity;
pub mod log;
pub mod policy;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
mod types;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod __private;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod bindings;

pub use event::{Event, NativeEvent};
pub use serde_json;
pub use types::{Alert, PluginError, PluginInfo, PluginKind, Severity, Subscription};

/// The WIT interface version this SDK builds against.
pub const INTERFACE_VERSION: &str = "0.1.0";

/// A detector: inspects one event and returns zero or more alerts.
///
/// The host creates the value with [`Default`], calls [`Detector::configure`] once, then
/// [`Detector::detect`] for each event matching [`Detector::info`]'s subscriptions.
pub trait Detector: Default {
    /// Static description of the plugin, read once at load.
    fn info() -> PluginInfo;

    /// Apply the plugin's JSON config (`{}` when the user gave none).
    /// The default accepts the host's global keys ([`config::GLOBAL_KEYS`]) and nothing else.
    fn configure(&mut self, config: &str) -> Result<(), PluginError> {
        config::parse::<config::NoSettings>(config).map(|_| ())
    }

    /// Inspect one event.
    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError>;
}

/// The user-name extractor: names the actor of each event.
pub trait Extractor: Default {
    /// Static description of the plugin, read once at load.
    fn info() -> PluginInfo;

    /// The name stored as `user_name` and shown as the actor.
    fn extract_user_name(&self, event: &Event) -> Option<String>;
}

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::arn::Arn;
    pub use crate::policy::{Policy, Principal, Statement};
    pub use crate::{Alert, Detector, Event, Extractor, PluginError, PluginInfo, PluginKind, Severity, Subscription};
}

/// Export a [`Detector`] type as the plugin's `detection` interface.
///
/// Expands to nothing outside `wasm32`, so the crate still builds and tests natively.
#[macro_export]
macro_rules! export_detector {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::detector::exports::iam_tracker::plugin::detection as __wit;
            struct __Guest;
            ::std::thread_local! {
                static __STATE: ::std::cell::RefCell<$ty> =
                    ::std::cell::RefCell::new(<$ty as ::std::default::Default>::default());
            }
            impl __wit::Guest for __Guest {
                fn info() -> __wit::PluginInfo {
                    $crate::__private::install_panic_hook();
                    $crate::__private::info_to_wit(<$ty as $crate::Detector>::info())
                }
                fn configure(config: ::std::string::String) -> ::std::result::Result<(), __wit::PluginError> {
                    $crate::__private::install_panic_hook();
                    __STATE
                        .with(|s| $crate::Detector::configure(&mut *s.borrow_mut(), &config))
                        .map_err($crate::__private::error_to_wit)
                }
                fn detect(
                    event: &$crate::bindings::CloudtrailEvent,
                ) -> ::std::result::Result<::std::vec::Vec<__wit::Alert>, __wit::PluginError> {
                    __STATE.with(|s| $crate::__private::detect(&*s.borrow(), event))
                }
            }
    $crate::bindings::detector::__export_detector_world!(__Guest with_types_in $crate::bindings::detector);
        };
    };
}

/// Export an [`Extractor`] type as the plugin's `extraction` interface.
#[macro_export]
macro_rules! export_extractor {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::extractor::exports::iam_tracker::plugin::extraction as __wit;
            struct __Guest;
            ::std::thread_local! {
                static __STATE: ::std::cell::RefCell<$ty> =
                    ::std::cell::RefCell::new(<$ty as ::std::default::Default>::default());
            }
            impl __wit::Guest for __Guest {
                fn info() -> __wit::PluginInfo {
                    $crate::__private::install_panic_hook();
                    $crate::__private::info_to_wit(<$ty as $crate::Extractor>::info())
                }
                fn extract_user_name(
                    event: &$crate::bindings::CloudtrailEvent,
                ) -> ::std::option::Option<::std::string::String> {
                    let event = $crate::Event::from_handle(event);
                    __STATE.with(|s| $crate::Extractor::extract_user_name(&*s.borrow(), &event))
                }
            }
    $crate::bindings::extractor::__export_extractor_world!(__Guest with_types_in $crate::bindings::extractor);
        };
    };
}
