//! The exit codes of the workspace's programs, `cnmf` and `cargo xtask reproduce`: one table,
//! so the same kind of failure ends with the same code in both.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | runtime failure: the fit diverged, an output file could not be written, a download failed |
//! | 2 | usage error: a bad command line or an invalid parameter value, found before any work |
//! | 3 | bad input data: a ratings, pairs or fold-in file that cannot be read or has a bad line |
//! | 4 | bad model file: missing, truncated, damaged (checksum), foreign, another format version, or beyond the limits |
//! | 5 | unknown user or item id (`cnmf` without `--unknown mean`) |
//! | 101 | a panic: a bug in the program (please report it with the command line); never the input's fault |
//! | 129, 130, 143 | ended by SIGHUP, SIGINT (Ctrl-C) or SIGTERM; `cnmf fit` removes its unfinished output first |
//! | 134 | aborted (SIGABRT), e.g. the allocator failed: out of memory |

/// An exit code of the table above that a program returns on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// 0: success.
    Ok = 0,
    /// 1: a failure at run time that is not the input's fault.
    Runtime = 1,
    /// 2: a usage error (clap's own code for bad command lines).
    Usage = 2,
    /// 3: bad input data.
    Data = 3,
    /// 4: a missing, damaged or foreign model file.
    Model = 4,
    /// 5: an unknown user or item id.
    UnknownId = 5,
}

/// The status of a panic (the Rust runtime's).
pub const PANIC: u8 = 101;

/// The status a shell reports for an abort (128 + SIGABRT).
pub const ABORT: u8 = 134;

impl Exit {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// A short stable name, used in JSON error reports.
    pub fn kind(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Runtime => "runtime",
            Exit::Usage => "usage",
            Exit::Data => "bad-data",
            Exit::Model => "bad-model",
            Exit::UnknownId => "unknown-id",
        }
    }
}

/// The table for `--help` texts, one code per line.
pub const HELP_TABLE: &str = "\
Exit codes:
  0    success
  1    runtime failure (the fit diverged, an output could not be written, ...)
  2    usage error: bad command line or invalid parameter (e.g. --k 0, unknown algorithm)
  3    bad input data: unreadable ratings/pairs file, malformed line (file:line in the message)
  4    bad model file: missing, truncated, damaged (checksum), foreign, another version
  5    unknown user or item id (see --unknown)
  101  a bug (panic): please report it
  130  interrupted (Ctrl-C; 143 for SIGTERM): unfinished output is removed
  134  aborted: out of memory";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_table() {
        let all = [
            Exit::Ok,
            Exit::Runtime,
            Exit::Usage,
            Exit::Data,
            Exit::Model,
            Exit::UnknownId,
        ];
        for (n, e) in all.iter().enumerate() {
            assert_eq!(e.code() as usize, n);
            assert!(HELP_TABLE.contains(&format!("\n  {n}  ")));
        }
        assert!(HELP_TABLE.contains(&format!("\n  {PANIC}  ")));
        assert!(HELP_TABLE.contains(&format!("\n  {ABORT}  ")));
    }
}
