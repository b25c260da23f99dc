//! One updating progress line for long-running commands: rewritten in place on a terminal; on a
//! pipe or a log file, a plain line at most every few seconds (and the last one), so that logs
//! stay readable.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    tty: bool,
    last: Option<Instant>,
    pending: Option<String>,
}

impl Progress {
    /// Progress on standard output.
    pub fn new() -> Progress {
        Progress {
            tty: std::io::stdout().is_terminal(),
            last: None,
            pending: None,
        }
    }

    /// Shows `line` as the current state.
    pub fn update(&mut self, line: &str) {
        let mut out = std::io::stdout().lock();
        if self.tty {
            let _ = write!(out, "\r{line}\x1b[K");
            let _ = out.flush();
            return;
        }
        if self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
        {
            let _ = writeln!(out, "{line}");
            self.last = Some(Instant::now());
            self.pending = None;
        } else {
            self.pending = Some(line.to_string());
        }
    }

    /// Ends the line (printing the last state if it was held back).
    pub fn finish(&mut self) {
        let mut out = std::io::stdout().lock();
        if self.tty {
            let _ = writeln!(out);
        } else if let Some(l) = self.pending.take() {
            let _ = writeln!(out, "{l}");
        }
    }
}
