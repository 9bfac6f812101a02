//! Where an input comes from: a file, a pipe, or standard input (`-`). Every input is read
//! once, from the start, so named pipes, `/dev/stdin` and `<(command)` work like files; a
//! line longer than the limit (`--max-line-bytes`) is an error, so an input without line
//! breaks cannot exhaust memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{CliError, CliResult};

/// The option that bounds the length of an input line, shared by every command that reads a
/// text input.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LineLimit {
    /// Longest line accepted in a ratings, pairs or fold-in file, in bytes (a longer line is
    /// an error naming it, so an input without line breaks cannot exhaust memory).
    #[arg(long, value_name = "BYTES", default_value_t = cnmf_ratings::DEFAULT_MAX_LINE_BYTES,
          value_parser = parse_line_limit)]
    pub max_line_bytes: usize,
}

fn parse_line_limit(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a positive whole number of bytes")),
    }
}

/// What `-` stands for in messages.
pub const STDIN_NAME: &str = "<stdin>";

/// An input named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `-`: standard input.
    Stdin,
    /// A path (a regular file, a named pipe, a device such as `/dev/stdin`).
    Path(PathBuf),
}

impl Input {
    /// `-` is standard input, anything else a path.
    pub fn new(p: &Path) -> Input {
        if p.as_os_str() == "-" {
            Input::Stdin
        } else {
            Input::Path(p.to_path_buf())
        }
    }

    /// The name used in messages: the path as given, or `<stdin>`.
    pub fn name(&self) -> PathBuf {
        match self {
            Input::Stdin => PathBuf::from(STDIN_NAME),
            Input::Path(p) => p.clone(),
        }
    }

    /// Opens the input for one sequential pass. A directory is refused here (opening one
    /// succeeds on Unix and only the first read fails). The error is the reason, without the
    /// name.
    pub fn open(&self) -> io::Result<Box<dyn Read>> {
        match self {
            Input::Stdin => Ok(Box::new(io::stdin())),
            Input::Path(p) => {
                let f = File::open(p)?;
                if f.metadata().is_ok_and(|m| m.is_dir()) {
                    return Err(io::Error::other("it is a directory, not a file"));
                }
                Ok(Box::new(f))
            }
        }
    }
}

/// An opened input: a regular file, whose length is known and which can skip ahead, or a
/// stream read front to back (standard input, a pipe, a device).
pub enum Opened {
    /// A regular file.
    File(File),
    /// Anything else.
    Stream(Box<dyn Read>),
}

impl Input {
    /// Opens the input like [`open`](Self::open), keeping a regular file as a [`File`], so a
    /// reader can check its length and skip the parts it does not need.
    pub fn open_file_or_stream(&self) -> io::Result<Opened> {
        match self {
            Input::Path(p) => {
                let f = File::open(p)?;
                let meta = f.metadata();
                if meta.as_ref().is_ok_and(|m| m.is_dir()) {
                    return Err(io::Error::other("it is a directory, not a file"));
                }
                if meta.is_ok_and(|m| m.is_file()) {
                    Ok(Opened::File(f))
                } else {
                    Ok(Opened::Stream(Box::new(f)))
                }
            }
            Input::Stdin => Ok(Opened::Stream(Box::new(io::stdin()))),
        }
    }
}

/// Refuses a command line that reads standard input twice (`--model - --ratings -`): a
/// stream can be read once.
pub fn stdin_once(inputs: &[(&str, &Input)]) -> CliResult<()> {
    let named: Vec<&str> = inputs
        .iter()
        .filter(|(_, i)| **i == Input::Stdin)
        .map(|(flag, _)| *flag)
        .collect();
    if named.len() > 1 {
        return Err(CliError::Usage(format!(
            "{} all read standard input (`-`), which can be read once: give files for all but one",
            named.join(" and ")
        )));
    }
    Ok(())
}

/// Lines of a reader, each at most `max` bytes (without its line break), with 1-based
/// numbers; `\r\n` endings and a leading UTF-8 byte-order mark are stripped.
pub struct BoundedLines<R> {
    reader: BufReader<R>,
    max: usize,
    line: usize,
    buf: Vec<u8>,
}

/// Why [`BoundedLines::next_line`] failed.
#[derive(Debug)]
pub enum LineError {
    /// The input could not be read.
    Io(io::Error),
    /// Line `.0` is longer than the limit.
    TooLong(usize),
}

impl<R: Read> BoundedLines<R> {
    /// Lines of `reader`, at most `max` bytes each.
    pub fn new(reader: R, max: usize) -> Self {
        BoundedLines {
            reader: BufReader::with_capacity(1 << 16, reader),
            max,
            line: 0,
            buf: Vec::new(),
        }
    }

    /// The next line and its number, `None` at the end of the input.
    pub fn next_line(&mut self) -> Result<Option<(usize, &[u8])>, LineError> {
        self.buf.clear();
        let mut any = false;
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LineError::Io(e)),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match memchr_nl(chunk) {
                Some(p) => (p, true),
                None => (chunk.len(), false),
            };
            // A `\r` of a `\r\n` ending may sit just past the limit.
            if self.buf.len() + take > self.max + 1 {
                return Err(LineError::TooLong(self.line + 1));
            }
            self.buf.extend_from_slice(&chunk[..take]);
            self.reader.consume(take + usize::from(done));
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if self.buf.len() > self.max {
            return Err(LineError::TooLong(self.line));
        }
        let mut line = &self.buf[..];
        if self.line == 1 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        Ok(Some((self.line, line)))
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// At most `max` characters of `s` for a message, with the length of what was cut.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}… ({} more bytes)", &s[..cut], s.len() - cut),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8], max: usize) -> Vec<Result<String, String>> {
        let mut l = BoundedLines::new(text, max);
        let mut out = Vec::new();
        loop {
            match l.next_line() {
                Ok(Some((_, s))) => out.push(Ok(String::from_utf8_lossy(s).into_owned())),
                Ok(None) => return out,
                Err(e) => {
                    out.push(Err(format!("{e:?}")));
                    return out;
                }
            }
        }
    }

    #[test]
    fn lines_are_split_and_bounded() {
        assert_eq!(
            lines(b"\xEF\xBB\xBFa,b\r\nc\n\nd", 10),
            [
                Ok("a,b".into()),
                Ok("c".into()),
                Ok("".into()),
                Ok("d".into())
            ]
        );
        assert_eq!(lines(b"abcd\r\n", 4), [Ok("abcd".into())]);
        assert_eq!(
            lines(b"ab\nabcde\n", 4),
            [Ok("ab".into()), Err("TooLong(2)".into())]
        );
        // A stream with no line break stops at the limit, not at the end of memory.
        let big = vec![b'x'; 1 << 20];
        assert_eq!(lines(&big, 100), [Err("TooLong(1)".into())]);
    }

    #[test]
    fn clip_cuts_long_text() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 2), "ab… (4 more bytes)");
    }
}
