//! Printing to stdout that survives a reader who stops reading
//! (`diverge run | head`).
//!
//! Rust ignores SIGPIPE, and the controller must keep it ignored (it writes
//! to sockets; SIGPIPE would kill it mid-run, leaving nodes behind), so a
//! write to a closed pipe fails with EPIPE and `println!` panics. [`say!`]
//! prints like `println!`, but the first failed write (a broken pipe, or any
//! other error) stops all further stdout output quietly: the run goes on,
//! stores its results and exits with its usual code.
//!
//! [`say!`]: crate::say

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout failed; nothing is written after that.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// `println!` to stdout that stops quietly once stdout is closed.
#[macro_export]
macro_rules! say {
    () => {
        $crate::stdout::write(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*), true)
    };
}

/// `print!` to stdout that stops quietly once stdout is closed.
#[macro_export]
macro_rules! say_raw {
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*), false)
    };
}

thread_local! {
    /// Set on threads whose output nobody reads (`diverge sim --seeds`
    /// workers run whole tests, each of which would print its stages).
    static SILENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Drop everything [`say!`](crate::say) prints on this thread from now on
/// (`true`), or print it again (`false`).
pub fn silence_this_thread(silent: bool) {
    SILENT.with(|s| s.set(silent));
}

/// Write `args` (and a newline) to stdout and flush, so a closed pipe is
/// noticed at once rather than at exit.
pub fn write(args: fmt::Arguments<'_>, newline: bool) {
    if SILENT.with(std::cell::Cell::get) {
        return;
    }
    write_to(&mut std::io::stdout().lock(), args, newline);
}

fn write_to(out: &mut impl Write, args: fmt::Arguments<'_>, newline: bool) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let result = out
        .write_fmt(args)
        .and_then(|()| {
            if newline {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| out.flush());
    if let Err(e) = result
        && !CLOSED.swap(true, Ordering::Relaxed)
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        // A reader that went away is normal; anything else is worth a word.
        eprintln!("diverge: stdout failed ({e}); the rest of the output is dropped");
    }
}

/// Whether stdout output was given up.
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader went away.
    struct Broken(usize);

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            self.0 += 1;
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_broken_pipe_stops_output_without_panicking() {
        let mut out = Broken(0);
        write_to(&mut out, format_args!("one"), true);
        assert!(closed());
        let attempts = out.0;
        write_to(&mut out, format_args!("two"), true);
        assert_eq!(out.0, attempts, "nothing is written once closed");
    }
}
