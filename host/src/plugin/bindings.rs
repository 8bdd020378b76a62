//! The only module that runs wasmtime's `bindgen!`: host bindings for both worlds.
//! The extractor world reuses the detector world's interface types.

#[allow(clippy::all, missing_docs)]
pub mod detector {
    wasmtime::component::bindgen!({
        world: "detector",
        path: "../wit",
    });
}

#[allow(clippy::all, missing_docs)]
pub mod extractor {
    wasmtime::component::bindgen!({
        world: "user-name-extractor",
        path: "../wit",
        with: {
            "iam-tracker:plugin/types": super::detector::iam_tracker::plugin::types,
            "iam-tracker:plugin/host": super::detector::iam_tracker::plugin::host,
            "iam-tracker:plugin/event": super::detector::iam_tracker::plugin::event,
        },
    });
}

pub use detector::iam_tracker::plugin::event::CloudtrailEvent;
pub use detector::iam_tracker::plugin::host::Level;
pub use detector::iam_tracker::plugin::types as wit;
