//! Third-party plugins fetched from S3 (`PLUGINS_S3_URI`) are admitted only when their
//! SHA-256 is listed in `PLUGINS_SHA256`: an unlisted component, or one whose bytes differ
//! from the listed digest, is refused and reported, and collection goes on without it.
//! Admitted components are compiled once and the native artifact is cached (in `/tmp` in
//! Lambda), keyed by the component's digest.

use sha2::{Digest, Sha256};

/// Why a fetched component was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{name}: not listed in PLUGINS_SHA256, refused")]
    Unlisted { name: String },
    #[error("{name}: SHA-256 is {actual}, but PLUGINS_SHA256 lists {expected}; refused")]
    Mismatch { name: String, expected: String, actual: String },
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Check one component (`name` is its file name, e.g. `my-rule.wasm`) against the allow list.
pub fn admit(name: &str, bytes: &[u8], allowed: &[(String, String)]) -> Result<(), Refusal> {
    let expected = allowed
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, d)| d)
        .ok_or_else(|| Refusal::Unlisted { name: name.to_string() })?;
    let actual = sha256_hex(bytes);
    if &actual != expected {
        return Err(Refusal::Mismatch { name: name.to_string(), expected: expected.clone(), actual });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_components_with_the_listed_digest_are_admitted() {
        let bytes = b"\0asm component bytes";
        let digest = sha256_hex(bytes);
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let allowed = vec![("rule.wasm".to_string(), digest.clone())];
        assert_eq!(admit("rule.wasm", bytes, &allowed), Ok(()));
        assert_eq!(admit("other.wasm", bytes, &allowed), Err(Refusal::Unlisted { name: "other.wasm".into() }));
        let tampered = admit("rule.wasm", b"\0asm tampered", &allowed).expect_err("mismatch");
        assert!(matches!(&tampered, Refusal::Mismatch { expected, .. } if *expected == digest));
        assert!(tampered.to_string().starts_with("rule.wasm: SHA-256 is "), "{tampered}");
    }
}

/// What fetching the third-party plugins gave: the admitted, loaded plugins and one line per
/// component that was refused or failed to load (for the logs and the run report).
#[derive(Default)]
pub struct Fetched {
    pub plugins: Vec<iam_tracker::plugin::Plugin>,
    pub refused: Vec<String>,
}

/// List `src` (the `PLUGINS_S3_URI` prefix), admit each `.wasm` against `allowed`, and load
/// the admitted ones with `host`, compiling each once into `cache_dir`. Nothing here fails
/// the cold start: a listing error, a refused digest or a component that does not load is
/// reported in [`Fetched::refused`] and the built-in detectors run without it.
pub async fn fetch<S: iam_tracker::collect::trail::ObjectSource>(
    src: &S,
    allowed: &[(String, String)],
    host: &iam_tracker::plugin::PluginHost,
    cache_dir: &std::path::Path,
    config_for: &dyn Fn(&str) -> String,
) -> Fetched {
    let mut out = Fetched::default();
    let listing = match src.list().await {
        Ok(l) => l,
        Err(e) => {
            out.refused.push(format!("cannot list the third-party plugins: {e}"));
            return out;
        }
    };
    out.refused.extend(listing.problems.iter().map(|p| format!("listing the third-party plugins: {p:?}")));
    for obj in listing.objects.iter().filter(|o| o.key.ends_with(".wasm")) {
        let name = obj.key.rsplit('/').next().unwrap_or(&obj.key).to_string();
        let bytes = match src.get(&obj.key).await {
            Ok(b) => b,
            Err(e) => {
                out.refused.push(format!("{name}: cannot read {}: {e}", obj.key));
                continue;
            }
        };
        if let Err(r) = admit(&name, &bytes, allowed) {
            out.refused.push(r.to_string());
            continue;
        }
        let key = sha256_hex(&bytes);
        let guess = name.trim_end_matches(".wasm");
        match host.load_cached(&name, &bytes, &key, cache_dir, &config_for(guess)) {
            Ok(p) => out.plugins.push(p),
            Err(e) => out.refused.push(format!("{name}: admitted but does not load: {e}")),
        }
    }
    out
}
