//! Where output goes: results on stdout (text or `--json`), progress and notes on stderr,
//! and model files through [`OutputFile`], which applies the output path rule before any work
//! and writes atomically.
//!
//! **The output path rule** (`cnmf fit -o PATH`): the tool writes regular files only. `PATH`
//! must name a file (not end in `/`, not be `-`) in an existing directory; an existing `PATH`
//! must be a regular file: a directory, a device node (`/dev/null`), a named pipe or a socket
//! is refused, and so is a **symbolic link** (refused rather than written through: replacing
//! the link would leave its target stale, writing through it would let a link planted in a
//! shared directory redirect the write; name the target instead). `PATH` may not be one of the
//! command's inputs (same file, also through another name or a hard link). All of this, and
//! that the directory is writable, is checked before the data is read: the temporary file the
//! model is written to is created first. It is removed when the command fails, and on SIGINT,
//! SIGTERM or SIGHUP.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
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
        serde_json::to_writer_pretty(&mut w, value).map_err(|e| match e.io_error_kind() {
            // Keep the I/O kind, so that a closed pipe (`cnmf ... --json | head`) exits quietly.
            Some(kind) => io_failure(io::Error::from(kind)),
            None => CliError::runtime(format!("writing JSON output: {e}")),
        })?;
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

    /// A progress bar of `len` steps on stderr in `template` (indicatif's syntax), hidden
    /// under `--quiet` (and by indicatif when stderr is not a terminal).
    pub fn bar(&self, len: u64, template: &str) -> ProgressBar {
        let bar = if self.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("the commands' templates are valid")
                .progress_chars("=> "),
        );
        bar
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

    /// A warning about a result that is probably not what the user wants: always printed on
    /// stderr, as `warning: ...`.
    pub fn warn(&self, s: &str) {
        eprintln!("warning: {s}");
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

/// Quotes a CSV field when it holds a comma, a quote or a line break, or starts or ends with
/// whitespace (which a reader trims from an unquoted field), so it reads back as written.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.trim() != s {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Temporary files to remove if a signal ends the process.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Installs, once, the handler that removes the [`TEMPORARIES`] on SIGINT, SIGTERM or SIGHUP
/// and exits with 128 + the signal's number (130, 143, 129), as the default action's status
/// would read in a shell.
fn remove_temporaries_on_signals() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return; // without the handler a signal leaves the file behind, as before
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let temps = TEMPORARIES.lock().unwrap_or_else(|p| p.into_inner());
                for t in temps.iter() {
                    let _ = fs::remove_file(t);
                }
                let message = "interrupted: removed the unfinished output";
                eprintln!("\n{message}");
                if std::env::args_os().any(|a| a == "--json") {
                    let doc = serde_json::json!({
                        "error": { "kind": "interrupted", "exit_code": 128 + sig, "message": message }
                    });
                    let _ = Output::default().json_doc(&doc);
                }
                std::process::exit(128 + sig);
            }
        });
    });
}

/// A file being written: the path rule checked and a temporary file created next to the
/// target before any work, then [`commit`](Self::commit) writes, syncs and renames it over the
/// target. Dropped without a commit (an error), it removes the temporary file.
#[derive(Debug)]
pub struct OutputFile {
    target: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl OutputFile {
    /// Applies the output path rule (see the [module docs](self)) to `path`, given the
    /// command's input files, and creates the temporary file. Usage errors (exit 2) for a path
    /// the rule refuses, a runtime error (exit 1) when the directory is not writable.
    pub fn create(path: &Path, inputs: &[&Path]) -> CliResult<OutputFile> {
        check_output_path(path, inputs)?;
        let dir = parent_dir(path);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        remove_temporaries_on_signals();
        let mut temps = TEMPORARIES.lock().unwrap_or_else(|p| p.into_inner());
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| {
                CliError::runtime(format!(
                    "cannot write {}: cannot create a file in {}: {e}",
                    path.display(),
                    dir.display()
                ))
            })?;
        temps.push(tmp.clone());
        Ok(OutputFile {
            target: path.to_path_buf(),
            tmp,
            file: Some(file),
        })
    }

    /// Writes `bytes`, syncs, and renames the temporary file over the target (then syncs the
    /// directory where the file system allows).
    pub fn commit(mut self, bytes: &[u8]) -> io::Result<()> {
        let mut f = self.file.take().expect("an output file is committed once");
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        // The target may have appeared since the check: the rule still holds at the rename.
        if let Ok(m) = fs::symlink_metadata(&self.target) {
            if !m.is_file() {
                return Err(io::Error::other(
                    "it is no longer a regular file (changed during the fit)",
                ));
            }
        }
        fs::rename(&self.tmp, &self.target)?;
        self.forget();
        if let Ok(d) = File::open(parent_dir(&self.target)) {
            // Some file systems refuse to sync a directory; the rename is atomic either way.
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The file this writes.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Takes the temporary file off the list the signal handler removes.
    fn forget(&self) {
        let mut temps = TEMPORARIES.lock().unwrap_or_else(|p| p.into_inner());
        temps.retain(|t| t != &self.tmp);
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        let committed = !TEMPORARIES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&self.tmp);
        if !committed {
            self.file = None;
            let _ = fs::remove_file(&self.tmp);
            self.forget();
        }
    }
}

/// The directory a path's file goes in (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The output path rule without creating anything (see the [module docs](self)).
pub fn check_output_path(path: &Path, inputs: &[&Path]) -> CliResult<()> {
    let shown = path.display();
    let usage = |why: String| Err(CliError::Usage(format!("cannot write {shown}: {why}")));
    if path.as_os_str() == "-" {
        return usage(
            "writing the model to standard output is not supported; give a file name".into(),
        );
    }
    let text = path.as_os_str().to_string_lossy();
    if path.file_name().is_none() || text.ends_with('/') || text.ends_with("/.") {
        return usage("it is not a file name (it names a directory)".into());
    }
    let dir = parent_dir(path);
    match fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return usage(format!("{} is not a directory", dir.display())),
        Err(_) => return usage(format!("directory {} does not exist", dir.display())),
    }
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(()); // a new file
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = fs::read_link(path)
            .map(|t| format!(" ({})", t.display()))
            .unwrap_or_default();
        return usage(format!(
            "it is a symbolic link{target}; cnmf replaces only regular files and does not \
             follow links: name the link's target instead"
        ));
    }
    if kind.is_dir() {
        return usage("it is a directory".into());
    }
    if !kind.is_file() {
        return usage(
            "it is not a regular file (a device, named pipe or socket); cnmf writes model files \
             as regular files only"
                .into(),
        );
    }
    for input in inputs {
        if same_file(path, input) {
            return usage(format!(
                "it is the input {}; writing there would destroy it: choose another output",
                input.display()
            ));
        }
    }
    Ok(())
}

/// Whether `a` and `b` are the same existing file (same device and inode on Unix, same
/// canonical path elsewhere).
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        fs::canonicalize(a).ok() == fs::canonicalize(b).ok()
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
        // Found by the csv_split fuzz target: trailing whitespace was lost on reading back.
        assert_eq!(csv_field("a\u{b}"), "\"a\u{b}\"");
        assert_eq!(csv_field(" a"), "\" a\"");
    }
}
