//! One Maelstrom node process: started by `sh -c 'exec <--node-cmd>'` with
//! `{id}` filled in, in its own process group (a terminal's Ctrl-C reaches
//! the controller, which stops it), dying with the controller
//! (`PR_SET_PDEATHSIG`) and killed when dropped. Its stdin and stdout are
//! pipes to the [`Router`]; its stderr is appended to `nodes/<id>.log`.
//!
//! A node keeps its state in memory, so a crash (SIGKILL) wipes it: a
//! restart is a new process, initialised again, with nothing of the old.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::router::Router;

/// The client name the controller's own requests (init, topology) use.
pub const CONTROL_CLIENT: &str = "c0";

/// One node and its pipes.
pub struct Supervisor {
    pub index: usize,
    pub id: String,
    /// The shell command, `{id}` filled in.
    command: String,
    pub log_path: PathBuf,
    child: Option<Child>,
    pumps: Vec<JoinHandle<()>>,
}

impl Supervisor {
    pub fn new(index: usize, id: &str, template: &str, log_path: PathBuf) -> Self {
        Supervisor {
            index,
            id: id.to_string(),
            command: template.replace("{id}", id),
            log_path,
            child: None,
            pumps: Vec::new(),
        }
    }

    /// Start the process, wire its pipes to `router`, send `init` and wait
    /// (at most `timeout`) for `init_ok`.
    pub async fn start(&mut self, router: &Arc<Router>, timeout: Duration) -> Result<()> {
        let mut child = spawn(&self.command, &self.log_path)
            .with_context(|| format!("starting node {} ({:?})", self.id, self.command))?;
        let stdin = child.stdin.take().context("node stdin")?;
        let stdout = child.stdout.take().context("node stdout")?;
        let (tx, rx) = mpsc::unbounded_channel();
        self.pumps = vec![
            tokio::spawn(write_lines(stdin, rx)),
            tokio::spawn(read_lines(stdout, self.index, router.clone())),
        ];
        self.child = Some(child);
        router.attach(self.index, tx);
        let init = json!({
            "type": "init",
            "node_id": self.id,
            "node_ids": router.ids(),
        });
        match router
            .request(self.index, CONTROL_CLIENT, init, timeout)
            .await
        {
            Ok(reply) if reply["type"] == "init_ok" => Ok(()),
            Ok(reply) => bail!("node {} answered init with {reply}", self.id),
            Err(e) => bail!(
                "node {} did not answer init with init_ok: {}{}",
                self.id,
                e.message(),
                self.log_tail()
            ),
        }
    }

    /// SIGKILL the node's process group and reap it; its memory is gone.
    pub async fn kill(&mut self, router: &Router) {
        router.detach(self.index);
        self.signal(libc::SIGCONT);
        self.signal(libc::SIGKILL);
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.pumps.drain(..).for_each(|p| p.abort());
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGSTOP or SIGCONT the node's process group.
    pub fn signal(&self, signal: libc::c_int) {
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            // SAFETY: signalling our own child's process group; no memory is touched.
            unsafe {
                libc::kill(-(pid as libc::pid_t), signal);
            }
        }
    }

    /// The node's last stderr lines, for errors (empty if none).
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(10)..].join("\n");
        if tail.is_empty() {
            String::new()
        } else {
            format!("; its log ({}) ends:\n{tail}", self.log_path.display())
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        self.signal(libc::SIGKILL);
        self.pumps.drain(..).for_each(|p| p.abort());
    }
}

fn spawn(command: &str, log_path: &Path) -> Result<Child> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let parent = std::process::id();
    let mut sh = Command::new("sh");
    // `exec`: the shell becomes the node, so signals reach the node itself.
    sh.arg("-c")
        .arg(format!("exec {command}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true);
    // SAFETY: only async-signal-safe libc calls between fork and exec.
    unsafe {
        sh.pre_exec(move || {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    Ok(sh.spawn()?)
}

/// Feed the node's stdin, one line per message, until it is gone.
async fn write_lines(mut stdin: ChildStdin, mut rx: mpsc::UnboundedReceiver<String>) {
    while let Some(mut line) = rx.recv().await {
        line.push('\n');
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            return;
        }
    }
}

/// Route every line the node writes; a line that is not a JSON object is
/// reported (naming the node) and skipped. A node whose stdout closes
/// while the controller still counts it running exited on its own (a
/// crash on a message it did not expect, say): reported too.
async fn read_lines(stdout: ChildStdout, index: usize, router: Arc<Router>) {
    let mut lines = BufReader::new(stdout).lines();
    let mut number = 0u64;
    while let Ok(Some(line)) = lines.next_line().await {
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(message) if message.is_object() => router.from_node(index, message),
            _ => {
                let shown = &line[..line.floor_char_boundary(120)];
                router.protocol_error(
                    index,
                    "not-a-message",
                    format!(
                        "stdout line {number} is not a JSON message (nodes log to stderr): {shown:?}"
                    ),
                );
            }
        }
    }
    if router.is_attached(index) {
        router.detach(index);
        router.protocol_error(
            index,
            "exited",
            "the node exited on its own (its stdout closed); see its log".into(),
        );
    }
}
