//! What a database's instances may leave behind, removed when dropped,
//! whichever way the run ends (error, panic, Ctrl-C: the nemesis may still
//! hold the servers then): every process named by a pid file is killed
//! (its process group too), waited for (briefly), then the files and
//! anything else `after` knows of are removed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Leftovers {
    /// Files whose first line is the pid of a process to kill.
    pub pid_files: Vec<PathBuf>,
    /// Files to remove once the processes are gone (sockets, pid files).
    pub files: Vec<PathBuf>,
    /// Run last, once the processes are gone (e.g. shared memory, a
    /// directory).
    pub after: Option<Box<dyn Fn() + Send + Sync>>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let mut pids = Vec::new();
        for pid_file in &self.pid_files {
            if let Some(pid) = std::fs::read_to_string(pid_file).ok().and_then(|p| {
                p.lines()
                    .next()
                    .and_then(|l| l.trim().parse::<libc::pid_t>().ok())
            }) {
                // SAFETY: signalling a process (group) we started; no memory is touched.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                    libc::kill(pid, libc::SIGKILL);
                }
                pids.push(pid);
            }
        }
        // Wait (briefly) until they are gone, so no lock outlives the run.
        let deadline = Instant::now() + Duration::from_secs(3);
        // SAFETY: signal 0 only checks for existence.
        while pids
            .iter()
            .any(|&p| unsafe { libc::kill(p, 0) } == 0 && !is_zombie(p))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
        if let Some(after) = &self.after {
            after();
        }
    }
}

fn is_zombie(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}
