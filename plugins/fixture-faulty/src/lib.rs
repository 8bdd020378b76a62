//! `fixture-faulty`: a deliberately broken detector for host tests. Never a built-in.
//!
//! It subscribes to every event and misbehaves according to `eventName`:
//! - `FixturePanic`: panics (a trap, with the panic message routed to the host log);
//! - `FixtureLoop`: loops forever (the host's epoch deadline must stop it);
//! - `FixtureAlloc`: allocates 1 GiB (the host's memory cap must stop it);
//! - `FixtureError`: returns `bad-event`;
//! - `FixtureAlert`: returns one `info` alert titled `Fixture Alert`;
//! - anything else: no alert.
//!
//! `configure` rejects `{"reject": true}` with `invalid-config`.

use iam_tracker_plugin_sdk::prelude::*;

pub const ID: &str = "fixture-faulty";

#[derive(Default)]
pub struct Faulty;

impl Detector for Faulty {
    fn info() -> PluginInfo {
        PluginInfo {
            id: ID.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test fixture that traps, loops, over-allocates and errors on demand".into(),
            kind: PluginKind::Detector,
            default_severity: Severity::Info,
            subscriptions: vec![Subscription::new("*", "*")],
        }
    }

    fn configure(&mut self, config: &str) -> Result<(), PluginError> {
        let v: iam_tracker_plugin_sdk::serde_json::Value = iam_tracker_plugin_sdk::serde_json::from_str(config)
            .map_err(|e| PluginError::InvalidConfig(format!("config is not JSON: {e}")))?;
        if v.get("reject").and_then(|r| r.as_bool()) == Some(true) {
            return Err(PluginError::InvalidConfig("rejected on purpose (reject = true)".into()));
        }
        Ok(())
    }

    fn detect(&self, event: &Event) -> Result<Vec<Alert>, PluginError> {
        match event.event_name().as_str() {
            "FixturePanic" => panic!("fixture panic on purpose"),
            "FixtureLoop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "FixtureAlloc" => {
                let big = vec![1u8; 1 << 30];
                Ok(vec![Alert::new(Severity::Info, "Fixture Alloc", format!("{}", big.len()))])
            }
            "FixtureError" => Err(PluginError::BadEvent("fixture error on purpose".into())),
            "FixtureAlert" => Ok(vec![Alert::new(Severity::Info, "Fixture Alert", "fixture alert")]),
            _ => Ok(vec![]),
        }
    }
}

iam_tracker_plugin_sdk::export_detector!(Faulty);
