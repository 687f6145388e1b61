//! The live progress line of a run: elapsed and limit, ops by outcome, the
//! faults in effect. An indicatif bar on a terminal; plain lines every few
//! seconds otherwise (CI logs), so output stays readable either way.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::history::{Progress, Snapshot};

/// The running display; stops (and clears the bar) when dropped.
pub struct Display {
    task: tokio::task::JoinHandle<()>,
    bar: Option<ProgressBar>,
}

fn line(s: &Snapshot) -> String {
    let faults = if s.faults.is_empty() {
        "none".to_string()
    } else {
        s.faults.join(",")
    };
    format!(
        "ops {} ({} ok, {} fail, {} info), faults: {faults}",
        s.ok + s.fail + s.info,
        s.ok,
        s.fail,
        s.info
    )
}

impl Display {
    /// Start showing `progress` for a workload of `limit`.
    pub fn start(progress: Arc<Progress>, limit: Duration) -> Display {
        let started = Instant::now();
        if std::io::stdout().is_terminal() {
            let bar = ProgressBar::new(limit.as_millis() as u64);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{elapsed:>4}}/{:.0}s [{{bar:30}}] {{msg}}",
                    limit.as_secs_f64()
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            let shown = bar.clone();
            let task = tokio::spawn(async move {
                loop {
                    shown.set_position(started.elapsed().as_millis() as u64);
                    shown.set_message(line(&progress.snapshot()));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            Display {
                task,
                bar: Some(bar),
            }
        } else {
            let every = (limit / 5).clamp(Duration::from_secs(1), Duration::from_secs(10));
            let task = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    crate::say!(
                        "progress: {:.0}/{:.0}s, {}",
                        started.elapsed().as_secs_f64(),
                        limit.as_secs_f64(),
                        line(&progress.snapshot())
                    );
                }
            });
            Display { task, bar: None }
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
