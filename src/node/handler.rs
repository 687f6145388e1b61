//! User conflict handlers as rhai scripts, loaded from files at start (no
//! rebuild): the node's on-write handler (`--on-write FILE`, a function
//! `on_write(key, versions)`), and the on-read resolver the workload clients
//! run (`diverge run --on-read FILE`, a function `on_read(key, values)`).
//!
//! Scripts run sandboxed: rhai has no file, network or process access, and
//! the engine bounds operations (the deterministic guard against loops),
//! call depth, string, array and map sizes, and wall time (a backstop). A
//! script that errors, exceeds a bound or returns something that is not a
//! JSON value gets a clear error in the log and the caller's fallback; it
//! never takes the node down. See docs/strategies.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use diverge_replica::{Handler, Version};
use rhai::{AST, Dynamic, Engine, Scope};
use serde_json::{Value, json};

/// Most rhai operations one call may run (loops end here, deterministically).
pub const OPERATIONS_MAX: u64 = 200_000;
/// Wall-time backstop for one call.
pub const CALL_TIME_MAX: Duration = Duration::from_millis(500);

/// A compiled script with its sandboxed engine.
pub struct Script {
    engine: Engine,
    ast: AST,
    path: PathBuf,
    /// Deadline of the running call, in ns since `epoch`.
    deadline_ns: Arc<AtomicU64>,
    epoch: Instant,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script").field("path", &self.path).finish()
    }
}

impl Script {
    /// Compile `path` and check it defines `function` with `arity` parameters.
    pub fn load(path: &Path, function: &str, arity: usize) -> anyhow::Result<Script> {
        let source = std::fs::read_to_string(path)
            .with_context(|| format!("reading the handler {}", path.display()))?;
        let epoch = Instant::now();
        let deadline_ns = Arc::new(AtomicU64::new(u64::MAX));
        let mut engine = Engine::new();
        engine.set_max_operations(OPERATIONS_MAX);
        engine.set_max_call_levels(32);
        engine.set_max_expr_depths(64, 32);
        engine.set_max_string_size(1 << 20);
        engine.set_max_array_size(100_000);
        engine.set_max_map_size(10_000);
        let shown = path.display().to_string();
        engine.on_print(move |text| tracing::info!(handler = %shown, "script: {text}"));
        let deadline = deadline_ns.clone();
        engine.on_progress(move |_ops| {
            let now = epoch.elapsed().as_nanos() as u64;
            (now > deadline.load(Ordering::Relaxed)).then(|| Dynamic::from("wall-time limit"))
        });
        let ast = engine
            .compile(&source)
            .map_err(|e| anyhow::anyhow!("compiling the handler {}: {e}", path.display()))?;
        anyhow::ensure!(
            ast.iter_functions()
                .any(|f| f.name == function && f.params.len() == arity),
            "the handler {} defines no function {function} with {arity} parameters",
            path.display()
        );
        Ok(Script {
            engine,
            ast,
            path: path.to_path_buf(),
            deadline_ns,
            epoch,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Call `function(key, arg)`; the result must be a JSON value (not `()`).
    pub fn call(&self, function: &str, key: &str, arg: &Value) -> Result<Value, String> {
        let arg: Dynamic =
            rhai::serde::to_dynamic(arg).map_err(|e| format!("passing the versions: {e}"))?;
        let deadline = self.epoch.elapsed() + CALL_TIME_MAX;
        self.deadline_ns
            .store(deadline.as_nanos() as u64, Ordering::Relaxed);
        let result = self.engine.call_fn::<Dynamic>(
            &mut Scope::new(),
            &self.ast,
            function,
            (key.to_string(), arg),
        );
        self.deadline_ns.store(u64::MAX, Ordering::Relaxed);
        let out = result.map_err(|e| format!("{function} failed: {e}"))?;
        if out.is_unit() {
            return Err(format!("{function} returned nothing (unit)"));
        }
        rhai::serde::from_dynamic::<Value>(&out)
            .map_err(|e| format!("{function} returned a value that is not JSON: {e}"))
    }
}

/// The node's on-write handler: `on_write(key, versions)` gets the
/// conflicting versions as `[#{value, node, seq, ts}, ...]` (in dot order)
/// and returns the value to keep.
#[derive(Debug)]
pub struct ScriptHandler {
    script: Script,
    node: String,
}

impl ScriptHandler {
    pub fn load(path: &Path, node: &str) -> anyhow::Result<Self> {
        Ok(ScriptHandler {
            script: Script::load(path, "on_write", 2)?,
            node: node.to_string(),
        })
    }
}

impl Handler for ScriptHandler {
    fn resolve(&self, key: &str, versions: &[Version]) -> Result<Value, String> {
        let arg = Value::Array(
            versions
                .iter()
                .map(
                    |v| json!({"value": v.value, "node": v.dot.node, "seq": v.dot.seq, "ts": v.ts}),
                )
                .collect(),
        );
        self.script.call("on_write", key, &arg).inspect_err(|error| {
            tracing::error!(
                node = %self.node,
                handler = %self.script.path().display(),
                key,
                %error,
                "the on-write handler failed; falling back to last-write-wins among the {} conflicting versions (all are kept)",
                versions.len()
            );
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diverge_replica::Dot;

    fn script(source: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), source).unwrap();
        file
    }

    fn version(value: Value, node: &str, seq: u64) -> Version {
        Version {
            value,
            dot: Dot {
                node: node.into(),
                seq,
            },
            ts: seq,
            uid: 0,
        }
    }

    #[test]
    fn larger_cart_wins_and_failures_are_errors_not_panics() {
        let file = script(
            r#"fn on_write(key, versions) {
                   let best = versions[0];
                   for v in versions { if v.value.len() > best.value.len() { best = v; } }
                   best.value
               }"#,
        );
        let h = ScriptHandler::load(file.path(), "n1").unwrap();
        let vs = [
            version(json!([1]), "n1", 1),
            version(json!([1, 2]), "n2", 1),
        ];
        assert_eq!(h.resolve("k", &vs), Ok(json!([1, 2])));

        for bad in [
            "fn on_write(key, versions) { throw \"no\"; }",
            "fn on_write(key, versions) { loop { } }",
            "fn on_write(key, versions) { }",
            "fn on_write(key, versions) { versions[7].value }",
        ] {
            let file = script(bad);
            let h = ScriptHandler::load(file.path(), "n1").unwrap();
            assert!(h.resolve("k", &vs).is_err(), "{bad}");
        }
        let missing = script("fn other(a) { a }");
        assert!(ScriptHandler::load(missing.path(), "n1").is_err());
        let broken = script("fn on_write(key, versions) { ");
        assert!(ScriptHandler::load(broken.path(), "n1").is_err());
    }
}
