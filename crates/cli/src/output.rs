//! Where output goes: results on stdout (text or `--json`), progress and notes on stderr.

use std::io::{self, Write};

use serde::Serialize;

use crate::error::{CliError, CliResult, Exit};

/// The output mode of one invocation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    /// Machine-readable output: one JSON document on stdout.
    pub json: bool,
    /// No progress bar and no informational lines on stderr (notes and errors still print).
    pub quiet: bool,
}

impl Output {
    /// Writes `value` as one pretty-printed JSON document (and a newline) on stdout.
    pub fn json_doc(&self, value: &impl Serialize) -> CliResult<()> {
        let stdout = io::stdout();
        let mut w = io::BufWriter::new(stdout.lock());
        serde_json::to_writer_pretty(&mut w, value)
            .map_err(|e| CliError::runtime(format!("writing JSON output: {e}")))?;
        writeln!(w).map_err(io_failure)?;
        w.flush().map_err(io_failure)
    }

    /// Writes text on stdout.
    pub fn text(&self, s: &str) -> CliResult<()> {
        let stdout = io::stdout();
        let mut w = stdout.lock();
        w.write_all(s.as_bytes()).map_err(io_failure)?;
        w.flush().map_err(io_failure)
    }

    /// An informational line on stderr, unless `--quiet`.
    pub fn info(&self, s: &str) {
        if !self.quiet {
            eprintln!("{s}");
        }
    }

    /// A note about something the tool did on the user's behalf (a fallback, a default):
    /// always printed on stderr, as `note: ...`.
    pub fn note(&self, s: &str) {
        eprintln!("note: {s}");
    }

    /// Reports a failed command: the message on stderr and, with `--json`, an error document
    /// `{"error": {"kind", "exit_code", "message"}}` on stdout.
    pub fn error(&self, e: &CliError) {
        eprintln!("error: {e}");
        if self.json {
            let exit = e.exit();
            let doc = serde_json::json!({
                "error": { "kind": exit.kind(), "exit_code": exit.code(), "message": e.to_string() }
            });
            // Best effort: if stdout is gone there is nowhere left to report to.
            let _ = self.json_doc(&doc);
        }
    }
}

/// An I/O failure writing output. A closed pipe (`cnmf ... | head`) is not an error of the
/// tool: [`is_broken_pipe`] lets the caller exit quietly.
pub fn io_failure(e: io::Error) -> CliError {
    CliError::Runtime(anyhow::Error::new(e).context("writing output"))
}

/// Whether `e` is a write to a closed pipe.
pub fn is_broken_pipe(e: &CliError) -> bool {
    match e {
        CliError::Runtime(a) => a
            .chain()
            .filter_map(|c| c.downcast_ref::<io::Error>())
            .any(|io| io.kind() == io::ErrorKind::BrokenPipe),
        _ => false,
    }
}

/// A plain text table with aligned columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    numeric: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers; columns flagged `numeric` are right-aligned.
    pub fn new(columns: &[(&str, bool)]) -> Table {
        Table {
            headers: columns.iter().map(|(h, _)| h.to_string()).collect(),
            numeric: columns.iter().map(|&(_, n)| n).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    ///
    /// # Panics
    /// When the row has not one cell per column (a programmer's error).
    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(cells.len(), self.headers.len(), "table row width");
        self.rows.push(cells);
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, two spaces between columns, one line per row.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut s = String::new();
            for (j, c) in cells.iter().enumerate() {
                if j > 0 {
                    s.push_str("  ");
                }
                let pad = widths[j] - c.chars().count();
                if self.numeric[j] {
                    s.extend(std::iter::repeat_n(' ', pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    if j + 1 < cells.len() {
                        s.extend(std::iter::repeat_n(' ', pad));
                    }
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&self.headers);
        for r in &self.rows {
            line(r);
        }
        out
    }
}

/// Quotes a CSV field when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The exit code for a finished command.
pub fn exit_code(result: &CliResult<()>) -> Exit {
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => e.exit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(&[("user", false), ("share", true)]);
        t.row(vec!["alice".into(), "0.5".into()]);
        t.row(vec!["b".into(), "12.25".into()]);
        assert_eq!(t.render(), "user   share\nalice    0.5\nb      12.25\n");
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
