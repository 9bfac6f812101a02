//! Streaming loaders for rating files: MovieLens `ratings.dat`, MovieLens 100K `u.data`, and
//! CSV/TSV with a header.
//!
//! # Formats
//!
//! | [`Format`] | line | ids |
//! |---|---|---|
//! | [`Format::MovieLens`] | `user::item::rating::timestamp` (ML-1M, ML-10M) | unsigned integers |
//! | [`Format::Ml100k`] | `user<TAB>item<TAB>rating<TAB>timestamp` (ML-100K `u.data`) | unsigned integers |
//! | [`Format::Csv`] | a header naming `user`, `item`, `rating` and optionally `timestamp` columns, in any order, separated by commas or tabs (detected from the header) | any text |
//!
//! A CSV/TSV file **without a header** (MovieLens `u1.test`, exported tables) is read as
//! [`Format::Csv`] when [`LoadOptions::columns`] names its columns in order ([`Columns`]); the
//! separator then comes from its first line.
//!
//! **Timestamps** are kept, one per rating in CSR order ([`Ratings::times`], seconds since the
//! Unix epoch): the MovieLens formats always have them (an unsigned integer of at most 18
//! digits); a CSV file has them when its header names a `timestamp` (or `time`) column, each an
//! integer number of seconds (a leading `-` allowed) or a UTC date `YYYY-MM-DD`, optionally
//! followed by `THH:MM` or `THH:MM:SS` and a `Z` (a space may stand for the `T`). Anything else
//! in a timestamp is an error naming the line. [`LoadOptions::timestamps`]`(false)` drops them
//! (8 bytes a rating less) and accepts any text in a CSV timestamp column.
//!
//! # What is accepted, what is an error
//!
//! - Line endings `\n` or `\r\n`; a UTF-8 byte-order mark before a CSV header.
//! - **Blank lines**: blank (empty or whitespace-only) lines at the *end* of the file are
//!   accepted and ignored, since editors and `echo >>` leave them. A blank line followed by more
//!   data is an error naming the blank line: it usually means a truncated or concatenated file.
//! - Every other line must be a complete rating. A missing or extra field, an empty or
//!   malformed id, a rating that is not a finite number or lies outside the scale, a timestamp
//!   that is not an integer (MovieLens formats), a line that is not valid UTF-8, or a duplicate
//!   (user, item) pair under [`DuplicatePolicy::Error`] is an error naming the file, the
//!   1-based line and the problem. Nothing is skipped silently and nothing is converted lossily.
//! - CSV fields may be quoted (`"a,b"`, with `""` for a quote inside); a quoted field cannot
//!   span lines. Spaces around CSV fields are trimmed.
//! - A file with no rating (empty, only blank lines, or a CSV header alone) is
//!   [`RatingsError::Empty`].
//! - **Compressed input**: a file starting with the gzip magic bytes is decompressed on the fly
//!   with the `gzip` feature (the `cnmf` CLI has it), and is an error naming the file without
//!   it; `name.dat.gz` is detected as `name.dat` would be.
//! - **Pipes**: a file is read once, from the start, so named pipes and `/dev/stdin` work;
//!   without a telling file name the format comes from the first line.
//! - A line longer than [`LoadOptions::max_line_bytes`] (default 1 MiB) is an error, so an input
//!   without line breaks cannot exhaust memory; an error quotes at most 300 characters of the
//!   offending text.
//!
//! **How a file is read.** A regular file of at least 16 MiB in a MovieLens format (by
//! [`LoadOptions::format`], the file name or the first line) is read in windows of about
//! 32 MiB (so the text in memory stays bounded; the next window is read while one is parsed),
//! each cut into byte ranges at line ends and parsed on all threads of the rayon pool by the
//! same line parser, each range straight into its own slots of the file's item, value and time
//! arrays (which become the CSR arrays when the ratings are grouped by user); the ranges' ids
//! are then merged in file order, so
//! the result, ids numbered by first appearance, line numbers and errors included (the first
//! error in the file is the one reported), is bit for bit the one of the streaming loader,
//! whatever the number of threads. Everything else (smaller files, CSV, gzip, pipes, readers)
//! is streamed through a reused line buffer (no copy of the whole file). Integer ids skip
//! hashing through a dense cache (streaming) or a bit set per range (parallel).

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{DuplicatePolicy, Location, RatingScale, Ratings, RatingsBuilder, RatingsError};

mod parallel;

/// The layout of a ratings file. See the [module docs](self) for each layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Format {
    /// Decide from the file name, else from the first line ([`Format::detect`]).
    #[default]
    Auto,
    /// MovieLens 1M/10M `ratings.dat`: `user::item::rating::timestamp`.
    MovieLens,
    /// MovieLens 100K `u.data`: `user<TAB>item<TAB>rating<TAB>timestamp`.
    Ml100k,
    /// CSV or TSV with a header naming the columns.
    Csv,
}

impl Format {
    /// The format a file name implies: `ratings.dat` or `*.dat` -> MovieLens, `u.data` -> ML-100K,
    /// `*.csv` / `*.tsv` -> CSV; `None` when the name says nothing.
    pub fn from_file_name(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?;
        // `ratings.dat.gz` is a compressed `ratings.dat`.
        let name = name.strip_suffix(".gz").unwrap_or(name);
        if name == "u.data" {
            return Some(Format::Ml100k);
        }
        let ext = Path::new(name).extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "dat" => Some(Format::MovieLens),
            "csv" | "tsv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// The format a first line suggests: `::` -> MovieLens; four tab-separated unsigned integers
    /// -> ML-100K (a rating may have a fraction); a first field that is not a number -> a CSV
    /// header. `None` when nothing fits.
    pub fn sniff(first_line: &[u8]) -> Option<Format> {
        let line = trim_ascii(first_line);
        let line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        if memchr::memmem::find(line, b"::").is_some() {
            return Some(Format::MovieLens);
        }
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        if fields.len() == 4
            && is_uint(fields[0])
            && is_uint(fields[1])
            && std::str::from_utf8(fields[2])
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .is_some()
            && is_uint(fields[3])
        {
            return Some(Format::Ml100k);
        }
        let first = line
            .split(|&b| b == b',' || b == b'\t')
            .next()
            .map(trim_ascii)
            .unwrap_or_default();
        let first = first.strip_prefix(b"\"").unwrap_or(first);
        if !first.is_empty() && first[0].is_ascii_alphabetic() {
            return Some(Format::Csv);
        }
        None
    }

    /// Resolves [`Format::Auto`] for a file: the name first, else the first line. Other formats
    /// are returned as they are, without opening the file.
    pub fn detect(self, path: &Path) -> Result<Format, RatingsError> {
        if self != Format::Auto {
            return Ok(self);
        }
        if let Some(f) = Format::from_file_name(path) {
            return Ok(f);
        }
        let file = File::open(path).map_err(|e| io_error(path, e))?;
        let (input, _) = decompress(file, path)?;
        let mut lines = LineReader::new(input, path, DEFAULT_MAX_LINE_BYTES);
        let first = lines.next_line()?.map(|(_, l)| l.to_vec());
        resolve_by_sniffing(path, first.as_deref())
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::MovieLens => "movielens",
            Format::Ml100k => "ml100k",
            Format::Csv => "csv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = RatingsError;

    /// Parses `auto`, `movielens` (or `dat`, `ml1m`), `ml100k` (or `udata`), `csv` (or `tsv`).
    fn from_str(s: &str) -> Result<Format, RatingsError> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Format::Auto),
            "movielens" | "dat" | "ml1m" | "ml-1m" => Ok(Format::MovieLens),
            "ml100k" | "ml-100k" | "udata" | "u.data" => Ok(Format::Ml100k),
            "csv" | "tsv" => Ok(Format::Csv),
            _ => Err(RatingsError::InvalidParameter {
                name: "format",
                reason: format!("{s:?} is not one of auto, movielens, ml100k, csv"),
            }),
        }
    }
}

/// How to load a ratings file.
///
/// ```
/// use cnmf_ratings::{DuplicatePolicy, Format, LoadOptions, RatingScale};
/// let opts = LoadOptions::default()
///     .format(Format::Csv)
///     .duplicates(DuplicatePolicy::KeepLast)
///     .scale(RatingScale::new(0.5, 5.0).unwrap());
/// assert_eq!(opts.format, Format::Csv);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadOptions {
    /// The scale every rating must lie in (default 1..5).
    pub scale: RatingScale,
    /// What to do with a repeated (user, item) pair (default: error).
    pub duplicates: DuplicatePolicy,
    /// The file layout (default: detect).
    pub format: Format,
    /// The longest line accepted, in bytes (default [`DEFAULT_MAX_LINE_BYTES`]): a longer
    /// line is an error, so that an input without line breaks cannot grow the line buffer
    /// until memory runs out.
    pub max_line_bytes: usize,
    /// Whether to keep the timestamps the file has (default: yes; see the
    /// [module docs](self)).
    pub timestamps: bool,
    /// The columns of a CSV file without a header line (default: none, the file's first line
    /// is its header). See [`LoadOptions::columns`].
    pub columns: Option<Columns>,
}

/// Default longest line of a ratings file: 1 MiB, thousands of times a real rating line.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            scale: RatingScale::default(),
            duplicates: DuplicatePolicy::default(),
            format: Format::default(),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            timestamps: true,
            columns: None,
        }
    }
}

impl LoadOptions {
    /// Sets the rating scale.
    pub fn scale(mut self, scale: RatingScale) -> Self {
        self.scale = scale;
        self
    }

    /// Sets the duplicate policy.
    pub fn duplicates(mut self, policy: DuplicatePolicy) -> Self {
        self.duplicates = policy;
        self
    }

    /// Sets the format.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Keeps (`true`, the default) or drops the timestamps of the file.
    pub fn timestamps(mut self, keep: bool) -> Self {
        self.timestamps = keep;
        self
    }

    /// Reads a CSV/TSV file that has no header line: `columns` stands for the header and the
    /// first line is a rating. The file is then read as [`Format::Csv`] whatever its name; the
    /// separator (tab or comma) comes from its first line. Another format than CSV or auto is
    /// [`RatingsError::InvalidParameter`], reported before reading.
    ///
    /// ```
    /// use cnmf_ratings::{load, load::Columns, LoadOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("u1.test");
    /// std::fs::write(&path, "1\t6\t5\t887431973\n2\t6\t3\t887431974\n").unwrap();
    /// let cols: Columns = "user,item,rating,timestamp".parse().unwrap();
    /// let r = load(&path, &LoadOptions::default().columns(cols)).unwrap();
    /// assert_eq!((r.n_users(), r.n_items(), r.nnz()), (2, 1, 2));
    /// ```
    pub fn columns(mut self, columns: Columns) -> Self {
        self.columns = Some(columns);
        self
    }

    /// Sets the longest line accepted, in bytes (at least 1).
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes.max(1);
        self
    }
}

/// Loads a ratings file. Errors name the file, the line and the problem (see the
/// [module docs](self)).
///
/// ```
/// use cnmf_ratings::{load, LoadOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("ratings.csv");
/// std::fs::write(&path, "user,item,rating\nann,up,5\nbob,up,3\n").unwrap();
/// let r = load(&path, &LoadOptions::default()).unwrap();
/// assert_eq!((r.n_users(), r.n_items(), r.nnz()), (2, 1, 2));
///
/// std::fs::write(&path, "user,item,rating\nann,up,5\nbob,up\n").unwrap();
/// let e = load(&path, &LoadOptions::default()).unwrap_err().to_string();
/// assert!(e.contains("ratings.csv:3") && e.contains("expected 3 fields"), "{e}");
/// ```
pub fn load(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Ratings, RatingsError> {
    load_with_format(path, opts).map(|(r, _)| r)
}

/// [`load`], also returning the format the file was read as ([`Format::Auto`] resolved from
/// the file name or the first line), from one pass over the file.
pub fn load_with_format(
    path: impl AsRef<Path>,
    opts: &LoadOptions,
) -> Result<(Ratings, Format), RatingsError> {
    load_file(
        path.as_ref(),
        opts,
        parallel::THRESHOLD,
        parallel::RANGE_BYTES,
    )
}

/// [`load_with_format`], with the size from which a regular file takes the parallel loader
/// and the length of its byte ranges (tests force the parallel loader on small files).
fn load_file(
    path: &Path,
    opts: &LoadOptions,
    threshold: u64,
    range_bytes: usize,
) -> Result<(Ratings, Format), RatingsError> {
    let opts = &given_columns(opts)?;
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map_or(0, |m| m.len());
    if size >= threshold {
        if let Some(format) = parallel_format(path, opts)? {
            if let Some(r) = parallel::load_file(file, path, opts, format, range_bytes)? {
                return Ok((r, format));
            }
            // Compressed after all: stream it.
            return load_streaming(path, opts);
        }
    }
    load_streaming_from(file, path, opts, size)
}

/// The format of a file the parallel loader can take (MovieLens or ML-100K, from the options,
/// the file name or the first line), or `None` when it is for the streaming loader.
fn parallel_format(path: &Path, opts: &LoadOptions) -> Result<Option<Format>, RatingsError> {
    let format = match opts.format {
        Format::Auto => match Format::from_file_name(path) {
            Some(f) => f,
            None => {
                // The first line decides, as in the streaming loader, unless it is blank or
                // compressed (then the streaming loader reports or decompresses).
                let file = File::open(path).map_err(|e| io_error(path, e))?;
                let mut lines = LineReader::new(file, path, opts.max_line_bytes);
                let first = match lines.next_line() {
                    Ok(Some((_, l))) => l,
                    _ => return Ok(None),
                };
                if first.starts_with(&GZIP_MAGIC) || trim_ascii(first).is_empty() {
                    return Ok(None);
                }
                match Format::sniff(first) {
                    Some(f) if compression(first).is_none() => f,
                    _ => return Ok(None),
                }
            }
        },
        f => f,
    };
    Ok(matches!(format, Format::MovieLens | Format::Ml100k).then_some(format))
}

/// The streaming loader on a file.
fn load_streaming(path: &Path, opts: &LoadOptions) -> Result<(Ratings, Format), RatingsError> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map_or(0, |m| m.len());
    load_streaming_from(file, path, opts, size)
}

fn load_streaming_from(
    file: File,
    path: &Path,
    opts: &LoadOptions,
    size: u64,
) -> Result<(Ratings, Format), RatingsError> {
    let (input, compressed) = decompress(file, path)?;
    let size = if compressed {
        size.saturating_mul(4)
    } else {
        size
    };
    let format = match opts.format {
        Format::Auto => Format::from_file_name(path).unwrap_or(Format::Auto),
        f => f,
    };
    // Reserve for lines of 12 bytes (MovieLens lines are about 20), so the triple buffer does
    // not regrow; room that is never written costs no memory.
    load_with_hint(input, path, &opts.format(format), (size / 12) as usize)
}

/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Wraps `input` (read once, from the start: a named pipe or `/dev/stdin` works, nothing is
/// read twice) in a gzip decoder when it starts with the gzip magic bytes; says whether it
/// did.
fn decompress<'r, R: Read + 'r>(
    mut input: R,
    name: &Path,
) -> Result<(Box<dyn Read + 'r>, bool), RatingsError> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < magic.len() {
        match input.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(name, e)),
        }
    }
    let input = std::io::Cursor::new(magic[..got].to_vec()).chain(input);
    if magic[..got] != GZIP_MAGIC {
        return Ok((Box::new(input), false));
    }
    #[cfg(feature = "gzip")]
    {
        Ok((Box::new(flate2::read::MultiGzDecoder::new(input)), true))
    }
    #[cfg(not(feature = "gzip"))]
    {
        drop(input);
        Err(parse_error(
            name,
            1,
            "the file is gzip-compressed: decompress it (gunzip) first, or use a build of \
             cnmf-ratings with its `gzip` feature"
                .into(),
        ))
    }
}

/// Loads ratings from any reader (it is read once, in large blocks: no `BufReader` needed,
/// and gzip-compressed input is decompressed as in [`load`]); `name` stands for the input in
/// error messages. [`Format::Auto`] is resolved from the first line only (there is no file
/// name to use).
pub fn load_reader<R: Read>(
    reader: R,
    name: impl AsRef<Path>,
    opts: &LoadOptions,
) -> Result<Ratings, RatingsError> {
    load_reader_with_format(reader, name, opts).map(|(r, _)| r)
}

/// [`load_reader`], also returning the format the input was read as.
pub fn load_reader_with_format<R: Read>(
    reader: R,
    name: impl AsRef<Path>,
    opts: &LoadOptions,
) -> Result<(Ratings, Format), RatingsError> {
    let name = name.as_ref();
    let (input, _) = decompress(reader, name)?;
    load_with_hint(input, name, opts, 0)
}

/// The options with [`LoadOptions::columns`] checked: the format becomes CSV.
fn given_columns(opts: &LoadOptions) -> Result<LoadOptions, RatingsError> {
    if opts.columns.is_none() {
        return Ok(*opts);
    }
    if !matches!(opts.format, Format::Auto | Format::Csv) {
        return Err(RatingsError::InvalidParameter {
            name: "columns",
            reason: format!(
                "column names are for CSV/TSV files without a header, not the {} format",
                opts.format
            ),
        });
    }
    Ok(opts.format(Format::Csv))
}

/// The columns of a CSV/TSV file without a header ([`LoadOptions::columns`]): `user`, `item`
/// and `rating`, optionally `timestamp`, each once, in the file's order; the aliases a header
/// may use are accepted (`userId`, `movieId`, `time`, ...). Parsed from text with
/// [`str::parse`]; a bad list is [`RatingsError::InvalidParameter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    kinds: [ColumnKind; 4],
    len: usize,
}

/// One column a ratings file may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    User,
    Item,
    Rating,
    Timestamp,
}

impl ColumnKind {
    /// The column a header name stands for.
    fn of(name: &str) -> Option<ColumnKind> {
        Some(match name.to_ascii_lowercase().as_str() {
            "user" | "userid" | "user_id" => ColumnKind::User,
            "item" | "itemid" | "item_id" | "movie" | "movieid" | "movie_id" => ColumnKind::Item,
            "rating" | "value" | "score" => ColumnKind::Rating,
            "timestamp" | "time" => ColumnKind::Timestamp,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            ColumnKind::User => "user",
            ColumnKind::Item => "item",
            ColumnKind::Rating => "rating",
            ColumnKind::Timestamp => "timestamp",
        }
    }
}

impl Columns {
    /// The header line these columns stand for, with `delimiter` between the names.
    fn header(&self, delimiter: char) -> String {
        let names: Vec<&str> = self.kinds[..self.len].iter().map(|k| k.name()).collect();
        names.join(&delimiter.to_string())
    }
}

impl std::str::FromStr for Columns {
    type Err = RatingsError;

    fn from_str(text: &str) -> Result<Columns, RatingsError> {
        let invalid = |reason: String| RatingsError::InvalidParameter {
            name: "columns",
            reason,
        };
        let mut kinds = [ColumnKind::User; 4];
        let mut len = 0;
        for name in text.split(',').map(str::trim) {
            if len == kinds.len() {
                return Err(invalid("more than 4 columns".into()));
            }
            let kind = ColumnKind::of(name).ok_or_else(|| {
                invalid(format!(
                    "{name:?} is not one of user, item, rating, timestamp (e.g. user,item,rating,timestamp)"
                ))
            })?;
            if kinds[..len].contains(&kind) {
                return Err(invalid(format!("{name:?} is named twice")));
            }
            kinds[len] = kind;
            len += 1;
        }
        let missing: Vec<&str> = [ColumnKind::User, ColumnKind::Item, ColumnKind::Rating]
            .iter()
            .filter(|k| !kinds[..len].contains(k))
            .map(|k| k.name())
            .collect();
        if !missing.is_empty() {
            return Err(invalid(format!(
                "no {} column (the columns are user,item,rating and optionally timestamp)",
                missing.join(", ")
            )));
        }
        Ok(Columns { kinds, len })
    }
}

fn load_with_hint<R: Read>(
    reader: R,
    name: &Path,
    opts: &LoadOptions,
    hint: usize,
) -> Result<(Ratings, Format), RatingsError> {
    let opts = &given_columns(opts)?;
    let mut lines = LineReader::new(reader, name, opts.max_line_bytes);
    let mut builder = RatingsBuilder::new(opts.scale)
        .duplicates(opts.duplicates)
        .source(name);
    builder.reserve(hint.min(1 << 28));
    let keep_times = opts.timestamps;
    if keep_times && matches!(opts.format, Format::MovieLens | Format::Ml100k) {
        builder.reserve_times(hint.min(1 << 28));
    }
    let mut sink = BuilderSink {
        builder,
        ids: IntIdCache::default(),
        keep_times,
    };
    let mut checked = CheckedPath {
        name,
        format: opts.format,
        csv: None,
        columns: opts.columns,
        blank_line: None,
        keep_times,
    };
    parse_lines(&mut lines, &mut checked, &mut sink)?;
    Ok((sink.builder.build()?, checked.format))
}

/// Reads every line of `lines` into `sink`: the fast paths for well-formed MovieLens lines
/// (parsed in place in the read buffer, or from the line when it straddles a refill), the
/// checked path for anything unusual, which accepts it or says exactly what is wrong. Stops at
/// the first error.
fn parse_lines<R: Read, S: Sink>(
    lines: &mut LineReader<'_, R>,
    checked: &mut CheckedPath<'_>,
    sink: &mut S,
) -> Result<(), RatingsError> {
    loop {
        if checked.blank_line.is_none() {
            let fast = match checked.format {
                Format::MovieLens => lines.next_fast(*b"::"),
                Format::Ml100k => lines.next_fast(*b"\t"),
                _ => None,
            };
            if let Some((line_no, f)) = fast {
                sink.push_fast(f, line_no)?;
                continue;
            }
        }
        let Some((line_no, raw)) = lines.next_line()? else {
            return Ok(());
        };
        if checked.blank_line.is_none() {
            let fast = match checked.format {
                Format::MovieLens => fast_line(raw, *b"::"),
                Format::Ml100k => fast_line(raw, *b"\t"),
                _ => None,
            };
            if let Some(f) = fast {
                sink.push_fast(f, line_no)?;
                continue;
            }
        }
        checked.take_line(sink, line_no, raw)?;
    }
}

/// Where parsed ratings go: straight into a [`RatingsBuilder`] (the streaming loader), or
/// into the buffers of one byte range (the parallel loader, [`parallel`]).
trait Sink {
    /// A rating the MovieLens fast path parsed.
    fn push_fast(&mut self, f: FastLine<'_>, line_no: usize) -> Result<(), RatingsError>;
    /// A rating of a MovieLens format the checked path parsed (integer ids through a cache).
    fn push_checked(
        &mut self,
        user: &str,
        item: &str,
        value: f64,
        time: i64,
        line_no: usize,
    ) -> Result<(), RatingsError>;
    /// A CSV rating (ids as text), with its timestamp when kept.
    fn push_text(
        &mut self,
        user: &str,
        item: &str,
        value: f64,
        time: Option<i64>,
        line_no: usize,
    ) -> Result<(), RatingsError>;
}

/// The streaming loader's sink: the builder, and a dense cache for integer ids.
struct BuilderSink {
    builder: RatingsBuilder,
    ids: IntIdCache,
    keep_times: bool,
}

impl Sink for BuilderSink {
    #[inline(always)]
    fn push_fast(&mut self, f: FastLine<'_>, line_no: usize) -> Result<(), RatingsError> {
        let builder = &mut self.builder;
        let u = self.ids.users.get_value(f.user, |s| builder.intern_user(s));
        let i = self.ids.items.get_value(f.item, |s| builder.intern_item(s));
        if self.keep_times {
            builder.push_indexed_at(u, i, f.rating, f.time, line_no)
        } else {
            builder.push_indexed(u, i, f.rating, line_no)
        }
    }

    fn push_checked(
        &mut self,
        user: &str,
        item: &str,
        value: f64,
        time: i64,
        line_no: usize,
    ) -> Result<(), RatingsError> {
        let builder = &mut self.builder;
        let u = self.ids.users.get(user, |s| builder.intern_user(s));
        let i = self.ids.items.get(item, |s| builder.intern_item(s));
        if self.keep_times {
            builder.push_indexed_at(u, i, value, time, line_no)
        } else {
            builder.push_indexed(u, i, value, line_no)
        }
    }

    fn push_text(
        &mut self,
        user: &str,
        item: &str,
        value: f64,
        time: Option<i64>,
        line_no: usize,
    ) -> Result<(), RatingsError> {
        let u = self.builder.intern_user(user);
        let i = self.builder.intern_item(item);
        match time {
            Some(t) => self.builder.push_indexed_at(u, i, value, t, line_no),
            None => self.builder.push_indexed(u, i, value, line_no),
        }
    }
}

/// The lines the fast paths leave (every line of a CSV file), and what they have told so far.
struct CheckedPath<'p> {
    name: &'p Path,
    /// The format, once [`Format::Auto`] is resolved from the first line.
    format: Format,
    /// The CSV columns, once the header is read.
    csv: Option<CsvLayout>,
    /// [`LoadOptions::columns`]: the header of a file without one.
    columns: Option<Columns>,
    /// The first blank line: only more blank lines may follow it.
    blank_line: Option<usize>,
    /// Whether timestamps are kept.
    keep_times: bool,
}

impl CheckedPath<'_> {
    /// Takes one line: a blank line is noted, the first line resolves [`Format::Auto`], a CSV
    /// header sets the columns, and anything else must be a rating, checked field by field.
    fn take_line<S: Sink>(
        &mut self,
        sink: &mut S,
        line_no: usize,
        raw: &[u8],
    ) -> Result<(), RatingsError> {
        let name = self.name;
        if trim_ascii(raw).is_empty() {
            self.blank_line.get_or_insert(line_no);
            return Ok(());
        }
        if let Some(b) = self.blank_line {
            return Err(parse_error(
                name,
                b,
                format!(
                    "blank line inside the data (line {line_no} follows it); only trailing blank lines are allowed"
                ),
            ));
        }
        if self.format == Format::Auto {
            self.format = resolve_by_sniffing(name, Some(raw))?;
        }
        let text = utf8(name, line_no, raw)?;
        let (fields, sep) = match self.format {
            Format::MovieLens => (split_movielens(text), "::"),
            Format::Ml100k => (split_tabs(text), "tab"),
            Format::Csv => return self.take_csv(sink, line_no, text),
            Format::Auto => unreachable!("resolved above"),
        };
        let (user, item, rating, time) = parse_movielens_fields(name, line_no, fields, sep)?;
        let value = parse_rating(name, line_no, rating)?;
        sink.push_checked(user, item, value, time, line_no)
    }

    /// Takes a CSV line: the header first, then ratings by the columns it names (text ids,
    /// not the integer cache).
    fn take_csv<S: Sink>(
        &mut self,
        sink: &mut S,
        line_no: usize,
        text: &str,
    ) -> Result<(), RatingsError> {
        let name = self.name;
        if self.csv.is_none() {
            let Some(columns) = self.columns else {
                self.csv = Some(CsvLayout::from_header(name, line_no, text)?);
                return Ok(());
            };
            // The given names, with the separator of the first line.
            let delimiter = if text.contains('\t') { '\t' } else { ',' };
            let header = columns.header(delimiter);
            self.csv = Some(CsvLayout::from_header(name, line_no, &header)?);
        }
        let Some(layout) = &self.csv else {
            unreachable!("set above")
        };
        let owned = layout.split(name, line_no, text)?;
        let (u, i, r) = layout.pick(name, line_no, &owned)?;
        let value = parse_rating(name, line_no, r)?;
        let time = match layout.timestamp.filter(|_| self.keep_times) {
            Some(k) => Some(
                crate::time::parse_timestamp(&owned[k])
                    .map_err(|p| parse_error(name, line_no, p))?,
            ),
            None => None,
        };
        sink.push_text(u, i, value, time, line_no)
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads lines out of one reused buffer (refilled in large blocks, lines found with memchr),
/// stripping `\n` / `\r\n` and a leading UTF-8 byte-order mark, counting lines from 1.
struct LineReader<'p, R> {
    reader: R,
    path: &'p Path,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    line: usize,
    max: usize,
}

impl<'p, R: Read> LineReader<'p, R> {
    const BLOCK: usize = 1 << 16;

    fn new(reader: R, path: &'p Path, max: usize) -> Self {
        LineReader {
            reader,
            path,
            buf: vec![0; Self::BLOCK],
            start: 0,
            end: 0,
            eof: false,
            line: 0,
            max,
        }
    }

    /// The error for line `self.line + 1`, longer than the limit.
    fn too_long(&self) -> RatingsError {
        parse_error(
            self.path,
            self.line + 1,
            format!(
                "line is longer than {} bytes, the limit (is this a ratings file with line \
                 breaks?)",
                self.max
            ),
        )
    }

    fn next_line(&mut self) -> Result<Option<(usize, &[u8])>, RatingsError> {
        let (from, to) = loop {
            if let Some(p) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let from = self.start;
                self.start += p + 1;
                break (from, from + p);
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let from = self.start;
                self.start = self.end;
                break (from, self.end);
            }
            self.refill()?;
        };
        if to - from > self.max {
            return Err(self.too_long());
        }
        self.line += 1;
        let mut line = &self.buf[from..to];
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        if self.line == 1 {
            line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
        }
        Ok(Some((self.line, line)))
    }

    /// The next line parsed in place by [`fast_prefix`] when it is complete in the buffer and
    /// well formed (ended by `\n` or `\r\n`), consuming it; `None` (consuming nothing) leaves
    /// it to [`next_line`](Self::next_line). Never used for line 1 (it may start with a BOM).
    #[inline(always)]
    fn next_fast<const N: usize>(&mut self, sep: [u8; N]) -> Option<(usize, FastLine<'_>)> {
        if self.line == 0 {
            return None;
        }
        let rest = &self.buf[self.start..self.end];
        let (f, after) = fast_prefix(rest, sep)?;
        let ending = match after {
            [b'\n', ..] => 1,
            [b'\r', b'\n', ..] => 2,
            _ => return None,
        };
        self.start += rest.len() - after.len() + ending;
        self.line += 1;
        Some((self.line, f))
    }

    /// Moves the unfinished line to the front, grows the buffer when one line fills it, and
    /// reads the next block.
    fn refill(&mut self) -> Result<(), RatingsError> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end > self.max {
            return Err(self.too_long());
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(self.path, e)),
            }
        }
    }
}

fn resolve_by_sniffing(name: &Path, first: Option<&[u8]>) -> Result<Format, RatingsError> {
    let Some(first) = first else {
        return Err(RatingsError::Empty {
            at: Location {
                path: name.to_path_buf(),
                line: 0,
            },
        });
    };
    if let Some(kind) = compression(first) {
        return Err(parse_error(
            name,
            1,
            format!(
                "the file looks {kind}-compressed: decompress it first (only gzip is \
                 decompressed on the fly)"
            ),
        ));
    }
    Format::sniff(first).ok_or_else(|| {
        parse_error(
            name,
            1,
            "cannot tell the file format from the first line (expected `user::item::rating::timestamp`, \
             `user<TAB>item<TAB>rating<TAB>timestamp`, or a CSV header `user,item,rating[,timestamp]`); \
             name the format explicitly"
                .to_string(),
        )
    })
}

/// The compression format whose magic bytes `first` starts with, if any (gzip is
/// decompressed before lines are read, so it is not listed).
fn compression(first: &[u8]) -> Option<&'static str> {
    const MAGICS: [(&[u8], &str); 4] = [
        (b"PK\x03\x04", "zip"),
        (b"\xFD7zXZ\x00", "xz"),
        (b"BZh", "bzip2"),
        (b"\x28\xB5\x2F\xFD", "zstd"),
    ];
    MAGICS
        .iter()
        .find(|(m, _)| first.starts_with(m))
        .map(|&(_, k)| k)
}

fn utf8<'a>(name: &Path, line: usize, raw: &'a [u8]) -> Result<&'a str, RatingsError> {
    std::str::from_utf8(raw).map_err(|e| {
        let at = e.valid_up_to();
        parse_error(
            name,
            line,
            format!(
                "line is not valid UTF-8 (byte 0x{:02X} at column {})",
                raw[at],
                at + 1
            ),
        )
    })
}

/// Up to four fields of a line and how many fields it has in all.
struct Fields<'a> {
    first: [&'a str; 4],
    count: usize,
}

impl<'a> Fields<'a> {
    fn new() -> Self {
        Fields {
            first: [""; 4],
            count: 0,
        }
    }

    fn push(&mut self, f: &'a str) {
        if self.count < 4 {
            self.first[self.count] = f;
        }
        self.count += 1;
    }
}

/// Splits `a::b::c::d` into fields (an empty field stays, so `a::::c` has three fields).
fn split_movielens(text: &str) -> Fields<'_> {
    let mut fields = Fields::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut from = 0;
    while let Some(p) = memchr::memchr(b':', &bytes[from..]) {
        let p = from + p;
        if bytes.get(p + 1) == Some(&b':') {
            fields.push(&text[start..p]);
            start = p + 2;
            from = start;
        } else {
            from = p + 1;
        }
    }
    fields.push(&text[start..]);
    fields
}

fn split_tabs(text: &str) -> Fields<'_> {
    let mut fields = Fields::new();
    for f in text.split('\t') {
        fields.push(f);
    }
    fields
}

/// Checks the four MovieLens fields and returns (user, item, rating text, timestamp).
fn parse_movielens_fields<'a>(
    name: &Path,
    line: usize,
    fields: Fields<'a>,
    sep: &str,
) -> Result<(&'a str, &'a str, &'a str, i64), RatingsError> {
    if fields.count != 4 {
        let what = if fields.count < 4 {
            "missing field"
        } else {
            "extra field"
        };
        return Err(parse_error(
            name,
            line,
            format!(
                "{what}: expected 4 fields (user, item, rating, timestamp) separated by {sep}, found {}",
                fields.count
            ),
        ));
    }
    let f = fields.first;
    for (k, what) in [(0, "user id"), (1, "item id"), (3, "timestamp")] {
        if !is_uint(f[k].as_bytes()) {
            return Err(parse_error(
                name,
                line,
                format!("{what} {:?} is not an unsigned integer", f[k]),
            ));
        }
    }
    let time = f[3].parse::<i64>().map_err(|_| {
        parse_error(
            name,
            line,
            format!("timestamp {:?} is too large (at most 18 digits)", f[3]),
        )
    })?;
    Ok((f[0], f[1], f[2], time))
}

fn parse_rating(name: &Path, line: usize, text: &str) -> Result<f64, RatingsError> {
    let b = text.as_bytes();
    // Fast path for the common one-digit MovieLens rating; everything else goes to the exact
    // standard parser.
    let value = if b.len() == 1 && b[0].is_ascii_digit() {
        f64::from(b[0] - b'0')
    } else {
        text.parse::<f64>()
            .map_err(|_| parse_error(name, line, format!("rating {text:?} is not a number")))?
    };
    if !value.is_finite() {
        return Err(parse_error(
            name,
            line,
            format!("rating {text:?} is not a finite number"),
        ));
    }
    Ok(value)
}

/// The columns of a CSV file, from its header.
struct CsvLayout {
    delimiter: u8,
    n_fields: usize,
    user: usize,
    item: usize,
    rating: usize,
    timestamp: Option<usize>,
    header: String,
}

impl CsvLayout {
    fn from_header(name: &Path, line: usize, text: &str) -> Result<CsvLayout, RatingsError> {
        let delimiter = if text.contains('\t') { b'\t' } else { b',' };
        let cols = split_csv(text, delimiter).map_err(|p| parse_error(name, line, p))?;
        let (mut user, mut item, mut rating, mut timestamp) = (None, None, None, None);
        for (k, col) in cols.iter().enumerate() {
            let slot = match ColumnKind::of(col) {
                Some(ColumnKind::User) => &mut user,
                Some(ColumnKind::Item) => &mut item,
                Some(ColumnKind::Rating) => &mut rating,
                Some(ColumnKind::Timestamp) => &mut timestamp,
                None => {
                    return Err(parse_error(
                        name,
                        line,
                        format!(
                            "header column {col:?} is not one of user, item, rating, timestamp \
                             (a CSV file needs a header line `user,item,rating[,timestamp]`)"
                        ),
                    ))
                }
            };
            if slot.replace(k).is_some() {
                return Err(parse_error(
                    name,
                    line,
                    format!("header names column {col:?} twice"),
                ));
            }
        }
        let missing: Vec<&str> = [("user", user), ("item", item), ("rating", rating)]
            .iter()
            .filter(|(_, c)| c.is_none())
            .map(|(n, _)| *n)
            .collect();
        if !missing.is_empty() {
            return Err(parse_error(
                name,
                line,
                format!(
                    "header lacks column(s) {} (a CSV file needs a header line `user,item,rating[,timestamp]`)",
                    missing.join(", ")
                ),
            ));
        }
        Ok(CsvLayout {
            delimiter,
            n_fields: cols.len(),
            user: user.unwrap_or_default(),
            item: item.unwrap_or_default(),
            rating: rating.unwrap_or_default(),
            timestamp,
            header: cols.join(","),
        })
    }

    fn split<'a>(
        &self,
        name: &Path,
        line: usize,
        text: &'a str,
    ) -> Result<Vec<std::borrow::Cow<'a, str>>, RatingsError> {
        let fields = split_csv(text, self.delimiter).map_err(|p| parse_error(name, line, p))?;
        if fields.len() != self.n_fields {
            let what = if fields.len() < self.n_fields {
                "missing field"
            } else {
                "extra field"
            };
            return Err(parse_error(
                name,
                line,
                format!(
                    "{what}: expected {} fields ({}), found {}",
                    self.n_fields,
                    self.header,
                    fields.len()
                ),
            ));
        }
        Ok(fields)
    }

    fn pick<'f>(
        &self,
        name: &Path,
        line: usize,
        fields: &'f [std::borrow::Cow<'_, str>],
    ) -> Result<(&'f str, &'f str, &'f str), RatingsError> {
        for (k, what) in [(self.user, "user id"), (self.item, "item id")] {
            if fields[k].is_empty() {
                return Err(parse_error(name, line, format!("empty {what}")));
            }
        }
        Ok((&fields[self.user], &fields[self.item], &fields[self.rating]))
    }
}

/// Splits one CSV line; fields are trimmed; a field starting with `"` is quoted (`""` is a
/// quote inside it) and must close on the same line.
fn split_csv(text: &str, delimiter: u8) -> Result<Vec<std::borrow::Cow<'_, str>>, String> {
    use std::borrow::Cow;
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(4);
    let mut pos = 0;
    loop {
        // Skip leading spaces of the field.
        while pos < bytes.len()
            && (bytes[pos] == b' ' || (bytes[pos] == b'\t' && delimiter != b'\t'))
        {
            pos += 1;
        }
        if bytes.get(pos) == Some(&b'"') {
            let column = pos + 1;
            let mut value = String::new();
            let mut p = pos + 1;
            loop {
                match memchr::memchr(b'"', &bytes[p..]) {
                    None => {
                        return Err(format!(
                            "unterminated quoted field starting at column {column} (a quoted field cannot span lines)"
                        ))
                    }
                    Some(q) => {
                        value.push_str(&text[p..p + q]);
                        p += q + 1;
                        if bytes.get(p) == Some(&b'"') {
                            value.push('"');
                            p += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            while p < bytes.len() && bytes[p] == b' ' {
                p += 1;
            }
            out.push(Cow::Owned(value));
            match bytes.get(p) {
                None => return Ok(out),
                Some(&b) if b == delimiter => pos = p + 1,
                Some(_) => {
                    return Err(format!(
                        "unexpected text after the closing quote of the field starting at column {column}"
                    ))
                }
            }
        } else {
            let end = memchr::memchr(delimiter, &bytes[pos..]).map(|e| pos + e);
            let field = &text[pos..end.unwrap_or(bytes.len())];
            if field.contains('"') {
                return Err(format!(
                    "stray quote in unquoted field {field:?} (quote the whole field and double inner quotes)"
                ));
            }
            out.push(Cow::Borrowed(field.trim_end()));
            match end {
                None => return Ok(out),
                Some(e) => pos = e + 1,
            }
        }
    }
}

/// Dense cache from integer ids (no leading zeros, below a bound) to indices, so the common
/// MovieLens case does not hash strings. Other ids fall back to the builder's map, which keeps
/// ids as the exact text read.
#[derive(Default)]
struct IntIdCache {
    users: IntIds,
    items: IntIds,
}

#[derive(Default)]
struct IntIds {
    dense: Vec<u32>,
}

impl IntIds {
    const LIMIT: u64 = 1 << 22;

    fn get(&mut self, text: &str, intern: impl FnOnce(&str) -> u32) -> u32 {
        match canonical_int(text.as_bytes()) {
            Some(v) => self.get_value(
                IntId {
                    value: v,
                    text: text.as_bytes(),
                },
                intern,
            ),
            None => intern(text),
        }
    }

    /// The index of a canonical integer id below [`Self::LIMIT`].
    fn get_value(&mut self, id: IntId<'_>, intern: impl FnOnce(&str) -> u32) -> u32 {
        let v = id.value as usize;
        if v >= self.dense.len() {
            self.dense.resize(v + 1, u32::MAX);
        }
        if self.dense[v] == u32::MAX {
            // Digits are ASCII, so this conversion cannot fail.
            let text = std::str::from_utf8(id.text).unwrap_or_default();
            self.dense[v] = intern(text);
        }
        self.dense[v]
    }
}

/// An integer id: its value and its text.
#[derive(Clone, Copy)]
struct IntId<'a> {
    value: u64,
    text: &'a [u8],
}

/// The value of an id written canonically (digits, no leading zero) and below
/// [`IntIds::LIMIT`]; other ids are kept as text only.
fn canonical_int(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 7 || (b[0] == b'0' && b.len() > 1) {
        return None;
    }
    let mut v = 0u64;
    for &d in b {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(d - b'0');
    }
    (v < IntIds::LIMIT).then_some(v)
}

/// A MovieLens line parsed by the fast path.
struct FastLine<'a> {
    user: IntId<'a>,
    item: IntId<'a>,
    rating: f64,
    time: i64,
}

/// Parses `user SEP item SEP rating SEP timestamp` when every part has its common form
/// (canonical integer ids, a rating `d`, `d.0` or `d.5`, 1 to 18 digits for the timestamp); `None`
/// otherwise, leaving the checked path to accept or reject the line.
#[inline(always)]
fn fast_line<const N: usize>(line: &[u8], sep: [u8; N]) -> Option<FastLine<'_>> {
    fast_prefix(line, sep)
        .filter(|(_, after)| after.is_empty())
        .map(|(f, _)| f)
}

/// Parses `user SEP item SEP rating SEP timestamp` at the start of `s` as [`fast_line`] does
/// (the timestamp being the digits that follow), and returns the rest of `s` after them.
#[inline(always)]
fn fast_prefix<const N: usize>(s: &[u8], sep: [u8; N]) -> Option<(FastLine<'_>, &[u8])> {
    let (user, rest) = id_prefix(s)?;
    let rest = rest.strip_prefix(&sep)?;
    let (item, rest) = id_prefix(rest)?;
    let rest = rest.strip_prefix(&sep)?;
    let (&d, mut rest) = rest.split_first()?;
    let d = d.wrapping_sub(b'0');
    if d > 9 {
        return None;
    }
    let mut rating = f64::from(d);
    if let [b'.', f, tail @ ..] = rest {
        match f {
            b'0' => {}
            b'5' => rating += 0.5,
            _ => return None,
        }
        rest = tail;
    }
    let stamp = rest.strip_prefix(&sep)?;
    let digits = stamp
        .iter()
        .position(|b| b.wrapping_sub(b'0') >= 10)
        .unwrap_or(stamp.len());
    if digits == 0 || digits > 18 {
        return None;
    }
    let time = stamp[..digits]
        .iter()
        .fold(0i64, |t, &b| t * 10 + i64::from(b - b'0'));
    Some((
        FastLine {
            user,
            item,
            rating,
            time,
        },
        &stamp[digits..],
    ))
}

/// A canonical integer id (at most 7 digits, no leading zero, below [`IntIds::LIMIT`]) at the
/// start of `s`, and the rest of `s`.
#[inline(always)]
fn id_prefix(s: &[u8]) -> Option<(IntId<'_>, &[u8])> {
    let mut value = 0u64;
    let mut len = 0;
    while let Some(&b) = s.get(len) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if len == 7 {
            return None;
        }
        value = value * 10 + u64::from(d);
        len += 1;
    }
    if len == 0 || (len > 1 && s[0] == b'0') {
        return None;
    }
    let (text, rest) = s.split_at(len);
    (value < IntIds::LIMIT).then_some((IntId { value, text }, rest))
}

fn is_uint(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Longest problem text an error carries: a message quotes fields of the bad line, and a
/// megabyte-long field would otherwise be echoed whole.
const MAX_PROBLEM_CHARS: usize = 300;

fn parse_error(name: &Path, line: usize, mut problem: String) -> RatingsError {
    if let Some((cut, _)) = problem.char_indices().nth(MAX_PROBLEM_CHARS) {
        let rest = problem.len() - cut;
        problem.truncate(cut);
        problem.push_str(&format!("… ({rest} more bytes)"));
    }
    RatingsError::Parse {
        at: Location {
            path: name.to_path_buf(),
            line,
        },
        problem,
    }
}

fn io_error(path: &Path, source: std::io::Error) -> RatingsError {
    RatingsError::Io {
        path: PathBuf::from(path),
        source,
    }
}
