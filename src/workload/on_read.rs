//! The client-side on-read resolver (`--strategy custom --on-read FILE`):
//! the node keeps every conflicting version as siblings, and the workload
//! clients resolve them with the user's rhai `on_read(key, values)` and
//! write the result back with the context they read, so that it supersedes
//! exactly the siblings they saw.
//!
//! A script that fails (throws, hits a bound, returns garbage) is logged
//! and the client falls back to its own merge, so a broken script costs
//! nothing but the log line; failures are counted apart from resolutions.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use crate::node::handler::Script;

/// The loaded script and what it did during the run.
#[derive(Debug)]
pub struct OnRead {
    script: Script,
    resolved: AtomicU64,
    failed: AtomicU64,
}

impl OnRead {
    /// Compile `path`; it must define `on_read(key, values)`.
    pub fn load(path: &Path) -> anyhow::Result<OnRead> {
        Ok(OnRead {
            script: Script::load(path, "on_read", 2)?,
            resolved: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    /// The script's resolution of `values` (two or more siblings), or
    /// `None` (logged) if it failed.
    pub fn resolve(&self, key: &str, values: &[Value]) -> Option<Value> {
        match self
            .script
            .call("on_read", key, &Value::Array(values.to_vec()))
        {
            Ok(value) => {
                self.resolved.fetch_add(1, Ordering::Relaxed);
                Some(value)
            }
            Err(error) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    handler = %self.script.path().display(),
                    key,
                    %error,
                    "the on-read resolver failed; the client merges the {} siblings itself",
                    values.len()
                );
                None
            }
        }
    }

    /// Sibling sets the script resolved.
    pub fn resolutions(&self) -> u64 {
        self.resolved.load(Ordering::Relaxed)
    }

    /// Calls that failed (and fell back).
    pub fn failures(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_union_cart_example_merges_siblings_and_a_broken_script_falls_back() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/handlers/union_cart.rhai");
        let on_read = OnRead::load(&path).unwrap();
        let merged = on_read.resolve("cart", &[json!([1, 2]), json!([2, 3]), json!(4)]);
        assert_eq!(merged, Some(json!([1, 2, 3, 4])));
        assert_eq!((on_read.resolutions(), on_read.failures()), (1, 0));

        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "fn on_read(key, values) { throw \"no\"; }").unwrap();
        let broken = OnRead::load(file.path()).unwrap();
        assert_eq!(broken.resolve("cart", &[json!(1), json!(2)]), None);
        assert_eq!((broken.resolutions(), broken.failures()), (0, 1));
        let wrong =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/handlers/larger_cart.rhai");
        assert!(OnRead::load(&wrong).is_err(), "on_write only: no on_read");
    }
}
