//! The WIT bindings, generated once here so plugin crates need none of their own.

#[allow(clippy::all, missing_docs)]
pub mod detector {
    wit_bindgen::generate!({
        world: "detector",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_detector_world",
        default_bindings_module: "iam_tracker_plugin_sdk::bindings::detector",
    });
}

#[allow(clippy::all, missing_docs)]
pub mod extractor {
    wit_bindgen::generate!({
        world: "user-name-extractor",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_extractor_world",
        default_bindings_module: "iam_tracker_plugin_sdk::bindings::extractor",
        with: {
            "iam-tracker:plugin/types@0.1.0": super::detector::iam_tracker::plugin::types,
            "iam-tracker:plugin/host@0.1.0": super::detector::iam_tracker::plugin::host,
            "iam-tracker:plugin/event@0.1.0": super::detector::iam_tracker::plugin::event,
        },
    });
}

pub use detector::iam_tracker::plugin::event::CloudtrailEvent;
pub use detector::iam_tracker::plugin::types as wit_types;
