//! The signals that stop a run, a comparison or a suite: Ctrl-C (SIGINT),
//! SIGTERM (what `timeout`, CI runners and process supervisors send) and
//! SIGHUP (a closed terminal). All three are taken over before anything is
//! started, so each one stops the system under test (nodes killed, database
//! instances stopped and their files removed) instead of killing the
//! controller and leaving its children and their data behind.

use anyhow::{Context, Result};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The stop signals, installed.
pub struct Interrupt {
    signals: [(Signal, i32); 3],
}

impl Interrupt {
    /// Take over SIGINT, SIGTERM and SIGHUP.
    pub fn install() -> Result<Self> {
        let take = |kind: SignalKind, number: i32| {
            signal(kind)
                .map(|s| (s, number))
                .with_context(|| format!("installing the handler of signal {number}"))
        };
        Ok(Interrupt {
            signals: [
                take(SignalKind::interrupt(), libc::SIGINT)?,
                take(SignalKind::terminate(), libc::SIGTERM)?,
                take(SignalKind::hangup(), libc::SIGHUP)?,
            ],
        })
    }

    /// Wait for the first of them; returns the exit code a shell gives a
    /// process that signal stopped (128 + its number: 130 for Ctrl-C).
    pub async fn recv(&mut self) -> i32 {
        let [(int, i), (term, t), (hup, h)] = &mut self.signals;
        let number = tokio::select! {
            _ = int.recv() => *i,
            _ = term.recv() => *t,
            _ = hup.recv() => *h,
        };
        128 + number
    }
}
