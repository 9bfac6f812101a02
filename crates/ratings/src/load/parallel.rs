//! The parallel loader for large regular files in a MovieLens format (`ratings.dat`,
//! `u.data`): the file is read in windows of a few tens of MiB, each cut into byte ranges at
//! line starts, and the ranges are parsed in parallel (rayon) by the same line parser as the
//! streaming loader ([`parse_lines`]). The result is bit for bit the streaming loader's,
//! whatever the number of threads:
//!
//! - **Where ratings go**: each range's lines are counted first (one fast pass over its bytes),
//!   which gives each range its own slots, in file order, of three arrays for the whole file
//!   (items, values, times); the range's parser writes its ratings straight there, and keeps
//!   its users as runs (user, count). No per-range copy of the ratings is made: for a file
//!   whose ratings are grouped by user (as `ratings.dat` files are), these arrays, once the
//!   ids are renumbered, are the CSR arrays; other files are bucketed by user from them.
//! - **Ids**: each range keeps its ids in order of first appearance (integer ids by value,
//!   others as text); the ranges' lists, merged in file order, give every id the dense index
//!   the streaming loader gives it (ids numbered in order of first appearance in the file), and
//!   each range's ratings are then renumbered in place.
//! - **Line numbers and errors**: a range counts its lines from 1; the ranges' line counts give
//!   each range its first line. The first range (in file order) that failed, or that has a
//!   rating after a blank line of an earlier range, is parsed again with its true first line
//!   and the blank-line state of the ranges before it, which yields exactly the streaming
//!   loader's error.
//! - **Memory**: only one window of text is held at a time (the next one is read while the
//!   current one is parsed), and the arrays take memory only where ratings are written; rows
//!   are sorted on all threads, as [`crate::RatingsBuilder::build`] would order them. Input with
//!   a repeated (user, item) pair, found only then, is loaded again by the streaming loader,
//!   which applies the duplicate policy and names the lines.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use rayon::prelude::*;

use super::{
    canonical_int, parse_lines, CheckedPath, FastLine, Format, IntId, LineReader, LoadOptions,
    Sink, GZIP_MAGIC,
};
use crate::ratings::{permute_row, sort_row};
use crate::{IdMap, RatingScale, Ratings, RatingsError};

/// Files at least this large (in bytes) take the parallel loader.
pub(super) const THRESHOLD: u64 = 16 << 20;

/// The length of one byte range (ranges end at the first line end at or after a multiple of
/// it): several ranges a thread in each window, so that the threads finish a window together.
pub(super) const RANGE_BYTES: usize = 4 << 20;

/// A key marks an id kept as text (its index in the range's text list) rather than an integer.
const TEXT: u32 = 1 << 31;

/// Ranges parsed at a time: the file is read in windows of this many ranges, so the text in
/// memory stays bounded (two windows, about 64 MiB with the default ranges) whatever the
/// file's size.
pub(super) const WINDOW_RANGES: usize = 8;

/// The parsed ratings of the whole file in file order, in slots given to the ranges: items
/// (id keys, then dense indices), values, and times (empty when not kept). Built with
/// `vec![0; n]`, they take memory only as ratings are written into them.
#[derive(Default)]
struct Parsed {
    items: Vec<u32>,
    values: Vec<f64>,
    times: Vec<i64>,
}

impl Parsed {
    /// Makes the arrays at least `len` long (zeros), `keep_times` saying whether times are kept.
    fn grow(&mut self, len: usize, keep_times: bool) {
        if self.items.is_empty() {
            self.items = vec![0; len];
            self.values = vec![0.0; len];
            self.times = vec![0; if keep_times { len } else { 0 }];
        } else if self.items.len() < len {
            self.items.resize(len, 0);
            self.values.resize(len, 0.0);
            if keep_times {
                self.times.resize(len, 0);
            }
        }
    }

    /// The slots `from .. from + lens[0] + lens[1] + ...`, one set per length.
    #[allow(clippy::type_complexity)]
    fn slots(&mut self, from: usize, lens: &[usize]) -> Vec<(&mut [u32], &mut [f64], &mut [i64])> {
        let keep_times = !self.times.is_empty();
        let mut ind = &mut self.items[from..];
        let mut dat = &mut self.values[from..];
        let mut tim: &mut [i64] = if keep_times {
            &mut self.times[from..]
        } else {
            &mut []
        };
        let mut out = Vec::with_capacity(lens.len());
        for &len in lens {
            out.push(take_front(&mut ind, &mut dat, &mut tim, len, keep_times));
        }
        out
    }

    /// Moves each range's ratings (`count` from `start`) down to follow the previous range's,
    /// leaving `total` ratings, and gives back the memory after them.
    fn compact(&mut self, outs: &mut [RangeOut]) -> usize {
        let keep_times = !self.times.is_empty();
        let mut total = 0;
        for o in outs.iter_mut() {
            if o.start != total {
                let span = o.start..o.start + o.count;
                self.items.copy_within(span.clone(), total);
                self.values.copy_within(span.clone(), total);
                if keep_times {
                    self.times.copy_within(span, total);
                }
                o.start = total;
            }
            total += o.count;
        }
        self.items.truncate(total);
        self.items.shrink_to_fit();
        self.values.truncate(total);
        self.values.shrink_to_fit();
        if keep_times {
            self.times.truncate(total);
            self.times.shrink_to_fit();
        }
        total
    }
}

/// The number of lines in `bytes` (a last line without a line end counts).
fn count_lines(bytes: &[u8]) -> usize {
    // Counted 64 bytes at a time into a byte-wide sum, which the compiler vectorises.
    let chunks = bytes.chunks_exact(64);
    let tail = chunks.remainder().iter().filter(|&&b| b == b'\n').count();
    let ends = chunks
        .map(|c| c.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n')) as usize)
        .sum::<usize>()
        + tail;
    ends + usize::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

/// Loads the open regular file `file` (`name` in messages) in `format` (MovieLens or
/// ML-100K), in windows of [`WINDOW_RANGES`] ranges of about `range_bytes`; `None` when the
/// file turns out to be gzip-compressed (the streaming loader decompresses it).
pub(super) fn load_file(
    mut file: File,
    name: &Path,
    opts: &LoadOptions,
    format: Format,
    range_bytes: usize,
) -> Result<Option<Ratings>, RatingsError> {
    let range_bytes = range_bytes.max(1);
    let window = range_bytes.saturating_mul(WINDOW_RANGES);
    let file_len = file.metadata().map_or(0, |m| m.len());
    let mut text = Window::default();
    let mut next = Window::default();
    let mut parsed = Parsed::default();
    let mut outs: Vec<RangeOut> = Vec::new();
    // Lines before the window, the first blank line after which only blank lines came, bytes
    // read and slots given out so far.
    let mut offset = 0;
    let mut blank: Option<usize> = None;
    let mut first_window = true;
    let mut slots_used = 0usize;
    let mut eof = text.fill(&mut file, window, opts.max_line_bytes, name)?;
    loop {
        if first_window && text.bytes().starts_with(&GZIP_MAGIC) {
            return Ok(None);
        }
        let cut = text.cut(eof);
        let bytes = &text.buf[..cut];
        let ranges = split_at_lines(bytes, range_bytes);
        let lens: Vec<usize> = ranges
            .par_iter()
            .map(|&(a, b)| count_lines(&bytes[a..b]))
            .collect();
        let need: usize = lens.iter().sum();
        if first_window {
            // Room for the whole file at the first window's lines per byte (plus a little):
            // memory is taken only where written, and a file with longer lines later on
            // grows the arrays.
            let per_byte = need as f64 / cut.max(1) as f64;
            let estimate = (file_len as f64 * per_byte * 1.02).min(file_len as f64 / 6.0) as usize;
            let estimate = estimate.saturating_add(1024);
            parsed.grow(estimate.max(need), opts.timestamps);
        }
        let Some(end) = slots_used
            .checked_add(need)
            .filter(|&e| e <= u32::MAX as usize)
        else {
            // More ratings than the indices can count: the streaming loader reports it.
            drop(parsed);
            return streaming(name, opts, format).map(Some);
        };
        parsed.grow(end, opts.timestamps);
        let slots = parsed.slots(slots_used, &lens);
        let starts = lens.iter().scan(slots_used, |s, &l| {
            let at = *s;
            *s += l;
            Some(at)
        });
        let jobs: Vec<_> = ranges.iter().zip(starts).zip(slots).collect();
        // Parse this window's ranges while the next window is read.
        let later = !first_window;
        let (parsed_now, read) = rayon::join(
            || {
                jobs.into_par_iter()
                    // Lines count from 1 in each range; a range after the file's first starts
                    // at "line 2" so that its first line is not taken for the file's first (a
                    // byte-order mark is stripped there only).
                    .map(|((&(a, b), start), slot)| {
                        let later = usize::from(a > 0 || later);
                        let mut out =
                            parse_range(&bytes[a..b], name, opts, format, later, None, slot);
                        out.start = start;
                        out
                    })
                    .collect::<Vec<_>>()
            },
            || {
                if eof {
                    return Ok(true);
                }
                next.take_tail(&text.buf[cut..text.len]);
                next.fill(&mut file, window, opts.max_line_bytes, name)
            },
        );
        // The first error in file order, exactly as the streaming loader reports it.
        for (k, out) in parsed_now.iter().enumerate() {
            if out.failed || (blank.is_some() && out.count > 0) {
                let (a, b) = ranges[k];
                let n = lens[k];
                let (mut i, mut v, mut t) = (vec![0; n], vec![0.0; n], vec![0; n]);
                let slot = (
                    &mut i[..],
                    &mut v[..],
                    &mut t[..n * usize::from(opts.timestamps)],
                );
                let again = parse_range(&bytes[a..b], name, opts, format, offset, blank, slot);
                return match again.error {
                    Some(e) => Err(e),
                    // Cannot happen (the same parser on the same bytes); the streaming loader
                    // decides rather than a panic.
                    None => streaming(name, opts, format).map(Some),
                };
            }
            if blank.is_none() {
                blank = out.blank.map(|b| b + offset);
            }
            offset += out.lines;
        }
        outs.extend(parsed_now);
        slots_used = end;
        first_window = false;
        let was_eof = eof;
        eof = read?;
        if was_eof {
            break;
        }
        std::mem::swap(&mut text, &mut next);
    }
    drop((text, next));
    if outs.iter().any(|o| o.overflow) {
        // Cannot happen (a range has no more ratings than lines).
        drop(parsed);
        return streaming(name, opts, format).map(Some);
    }
    assemble(outs, parsed, name, opts, format).map(Some)
}

/// A window of the file's text: `buf[..len]` read, the rest room to read into.
#[derive(Default)]
struct Window {
    buf: Vec<u8>,
    len: usize,
}

impl Window {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Where the text to parse ends: after its last line end, or at its end when the file
    /// ended.
    fn cut(&self, eof: bool) -> usize {
        if eof {
            self.len
        } else {
            memchr::memrchr(b'\n', self.bytes()).map_or(self.len, |p| p + 1)
        }
    }

    /// Starts this window with `tail` (the partial last line of the window before).
    fn take_tail(&mut self, tail: &[u8]) {
        if self.buf.len() < tail.len() {
            self.buf.resize(tail.len(), 0);
        }
        self.buf[..tail.len()].copy_from_slice(tail);
        self.len = tail.len();
    }

    /// Reads from `file` until the window holds at least `window` bytes with a line end in
    /// them (or a line longer than `max_line` bytes, which the parser reports), or the file
    /// ends; says whether it ended. The buffer is zeroed only when it grows.
    fn fill(
        &mut self,
        file: &mut File,
        window: usize,
        max_line: usize,
        name: &Path,
    ) -> Result<bool, RatingsError> {
        const BLOCK: usize = 1 << 20;
        if self.buf.len() < window.saturating_add(BLOCK) {
            let mut grown = vec![0; window.saturating_add(BLOCK)];
            grown[..self.len].copy_from_slice(&self.buf[..self.len]);
            self.buf = grown;
        }
        loop {
            let enough = self.len >= window
                && (self.len > max_line.saturating_add(window)
                    || memchr::memchr(b'\n', self.bytes()).is_some());
            if enough {
                return Ok(false);
            }
            if self.len == self.buf.len() {
                let grow = self.buf.len().max(BLOCK);
                self.buf.resize(self.buf.len() + grow, 0);
            }
            let got = loop {
                match file.read(&mut self.buf[self.len..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(super::io_error(name, e)),
                }
            };
            if got == 0 {
                return Ok(true);
            }
            self.len += got;
        }
    }
}

/// The streaming loader's result for the file (for input the parallel path does not
/// assemble itself).
fn streaming(name: &Path, opts: &LoadOptions, format: Format) -> Result<Ratings, RatingsError> {
    super::load_streaming(name, &opts.format(format)).map(|(r, _)| r)
}

/// The ratings of the parsed ranges (in file order, in `parsed`): ids numbered by first
/// appearance, then the CSR arrays (the parsed arrays themselves when the file is grouped by
/// user) and the CSC.
fn assemble(
    mut outs: Vec<RangeOut>,
    mut parsed: Parsed,
    name: &Path,
    opts: &LoadOptions,
    format: Format,
) -> Result<Ratings, RatingsError> {
    let total = parsed.compact(&mut outs);
    if total == 0 {
        // No rating at all: the streaming loader reports it.
        drop(parsed);
        return streaming(name, opts, format);
    }
    // Dense indices in order of first appearance in the file.
    let (users, items) = rayon::join(
        || merge_ids(outs.iter().map(|o| &o.users)),
        || merge_ids(outs.iter().map(|o| &o.items)),
    );
    let (n, m) = (users.map.len(), items.map.len());
    {
        let lens: Vec<usize> = outs.iter().map(|o| o.count).collect();
        let slots = parsed.slots(0, &lens);
        outs.par_iter_mut()
            .zip(slots)
            .enumerate()
            .for_each(|(k, (out, (ind, _, _)))| {
                let (users_text, items_text) = (&users.text[k], &items.text[k]);
                for i in ind {
                    *i = items.index(*i, items_text);
                }
                for run in &mut out.runs {
                    run.0 = users.index(run.0, users_text);
                }
            });
    }
    let mut row_ptr = vec![0u32; n + 1];
    let mut grouped = true;
    let mut last = 0;
    for o in &outs {
        for &(u, len) in &o.runs {
            grouped &= u >= last;
            last = u;
            row_ptr[u as usize + 1] += len;
        }
    }
    for u in 0..n {
        row_ptr[u + 1] += row_ptr[u];
    }
    let Parsed {
        items: mut indices,
        values: mut data,
        mut times,
    } = if grouped {
        // Rows are the runs, in order: the parsed arrays are the CSR arrays.
        parsed
    } else {
        place_by_user(&outs, parsed, &row_ptr)
    };
    drop(outs);
    if sort_all_rows(&row_ptr, &mut indices, &mut data, &mut times) {
        // A (user, item) pair repeats: the streaming loader applies the duplicate policy and
        // names the lines.
        drop((indices, data, times));
        return streaming(name, opts, format);
    }
    let csr = sprs::CsMatI::new((n, m), row_ptr, indices, data);
    let r = Ratings::assemble(users.map.into(), items.map.into(), opts.scale, csr);
    if opts.timestamps {
        r.with_times(times)
    } else {
        Ok(r)
    }
}

/// Splits the first `len` slots off the item, value and (when kept) time arrays.
#[allow(clippy::type_complexity)]
fn take_front<'a>(
    ind: &mut &'a mut [u32],
    dat: &mut &'a mut [f64],
    tim: &mut &'a mut [i64],
    len: usize,
    keep_times: bool,
) -> (&'a mut [u32], &'a mut [f64], &'a mut [i64]) {
    let (a, rest) = std::mem::take(ind).split_at_mut(len);
    *ind = rest;
    let (b, rest) = std::mem::take(dat).split_at_mut(len);
    *dat = rest;
    let (c, rest) = std::mem::take(tim).split_at_mut(if keep_times { len } else { 0 });
    *tim = rest;
    (a, b, c)
}

/// Sorts every row of the CSR arrays by (item, input order) on all threads, in groups of
/// about `GROUP` ratings; says whether an item repeats in a row.
fn sort_all_rows(
    row_ptr: &[u32],
    indices: &mut [u32],
    data: &mut [f64],
    times: &mut [i64],
) -> bool {
    const GROUP: usize = 1 << 16;
    let n_users = row_ptr.len() - 1;
    let keep_times = !times.is_empty();
    let mut groups = Vec::new();
    let (mut ind, mut dat, mut tim) = (indices, data, times);
    let mut u = 0;
    while u < n_users {
        let start = row_ptr[u] as usize;
        let mut v = u + 1;
        while v < n_users && (row_ptr[v + 1] as usize) - start <= GROUP {
            v += 1;
        }
        let len = row_ptr[v] as usize - start;
        let (a, b, c) = take_front(&mut ind, &mut dat, &mut tim, len, keep_times);
        groups.push((&row_ptr[u..=v], a, b, c));
        u = v;
    }
    groups
        .into_par_iter()
        .map(|(ptr, ind, dat, tim)| sort_rows(ptr, ind, dat, tim))
        .reduce(|| false, |a, b| a || b)
}

/// The stable counting sort by user of ratings not grouped by user: each run of a user's
/// ratings (in file order) goes to its user's next free slots of new CSR arrays, and the
/// parsed arrays are freed. Parallel over ranges of users of about equal size, one per worker:
/// each owns its contiguous slice of the new arrays and takes the runs of its users from every
/// range, in file order, so the writes are disjoint without `unsafe` and the result is the
/// same for any number of threads.
fn place_by_user(outs: &[RangeOut], parsed: Parsed, row_ptr: &[u32]) -> Parsed {
    let total = parsed.items.len();
    let keep_times = !parsed.times.is_empty();
    let mut csr = Parsed::default();
    csr.grow(total, keep_times);
    let cuts = crate::ratings::equal_cuts(row_ptr, rayon::current_num_threads());
    let lens: Vec<usize> = cuts
        .windows(2)
        .map(|w| (row_ptr[w[1]] - row_ptr[w[0]]) as usize)
        .collect();
    let slices = csr.slots(row_ptr[cuts[0]] as usize, &lens);
    slices
        .into_par_iter()
        .zip(cuts.par_windows(2))
        .for_each(|((ind, dat, tim), w)| {
            let (u0, u1) = (w[0] as u32, w[1] as u32);
            let base = row_ptr[w[0]];
            let mut next: Vec<u32> = row_ptr[w[0]..w[1]].iter().map(|&p| p - base).collect();
            for o in outs {
                let mut p = o.start;
                for &(u, len) in &o.runs {
                    let len = len as usize;
                    if u >= u0 && u < u1 {
                        let slot = &mut next[(u - u0) as usize];
                        let k = *slot as usize;
                        ind[k..k + len].copy_from_slice(&parsed.items[p..p + len]);
                        dat[k..k + len].copy_from_slice(&parsed.values[p..p + len]);
                        if keep_times {
                            tim[k..k + len].copy_from_slice(&parsed.times[p..p + len]);
                        }
                        *slot += len as u32;
                    }
                    p += len;
                }
            }
        });
    csr
}

/// Sorts each row (spans `ptr[k] - ptr[0] .. ptr[k + 1] - ptr[0]` of the slices) by (item,
/// input order), carrying values and times (`times` empty when not kept); says whether an
/// item repeats in a row.
fn sort_rows(ptr: &[u32], indices: &mut [u32], data: &mut [f64], times: &mut [i64]) -> bool {
    let base = ptr[0] as usize;
    let mut keys: Vec<u64> = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    let mut stamps: Vec<i64> = Vec::new();
    let mut repeats = false;
    for w in ptr.windows(2) {
        let (a, b) = (w[0] as usize - base, w[1] as usize - base);
        let row = &mut indices[a..b];
        if !sort_row(row, &mut keys) {
            continue;
        }
        permute_row(&mut data[a..b], &keys, &mut values);
        if !times.is_empty() {
            permute_row(&mut times[a..b], &keys, &mut stamps);
        }
        repeats |= row.windows(2).any(|w| w[0] == w[1]);
    }
    repeats
}

/// Cuts `data` into ranges of about `len` bytes, each ending just after a `\n` (the last at
/// the end of the data).
fn split_at_lines(data: &[u8], len: usize) -> Vec<(usize, usize)> {
    let mut ranges = Vec::with_capacity(data.len() / len + 1);
    let mut start = 0;
    while start < data.len() {
        let target = start.saturating_add(len).min(data.len());
        let end = match memchr::memchr(b'\n', &data[target - 1..]) {
            Some(p) => target + p,
            None => data.len(),
        };
        ranges.push((start, end));
        start = end;
    }
    ranges
}

/// What parsing one range gave (its ratings are in its slots of the parsed arrays).
struct RangeOut {
    /// The first slot of the range's ratings in the parsed arrays.
    start: usize,
    /// Ratings parsed.
    count: usize,
    /// Whether a rating found no slot (cannot happen: a range has no more ratings than lines).
    overflow: bool,
    /// The range's users as runs of ratings: (user key, then dense index; ratings).
    runs: Vec<(u32, u32)>,
    users: LocalIds,
    items: LocalIds,
    /// Lines read (the range ends at a line end, so this is its number of lines).
    lines: usize,
    /// The first blank line of the range (counted from its first line), when only blank lines
    /// follow it in the range.
    blank: Option<usize>,
    /// Whether the range has a line the loader refuses (with blank-line state carried in).
    failed: bool,
    /// The error, when the range was parsed with its true first line.
    error: Option<RatingsError>,
}

/// Parses one range whose first line is line `offset + 1`, after a blank line `blank` of an
/// earlier range (if any), into its slots (items, values, times; times empty when not kept);
/// the lines it keeps are counted from the range's first line (1).
#[allow(clippy::too_many_arguments)]
fn parse_range(
    bytes: &[u8],
    name: &Path,
    opts: &LoadOptions,
    format: Format,
    offset: usize,
    blank: Option<usize>,
    slot: (&mut [u32], &mut [f64], &mut [i64]),
) -> RangeOut {
    let mut lines = LineReader::new(bytes, name, opts.max_line_bytes);
    lines.line = offset;
    let (items, values, times) = slot;
    let mut sink = RangeSink {
        name,
        scale: opts.scale,
        items,
        values,
        times,
        len: 0,
        overflow: false,
        runs: Vec::new(),
        users: LocalIds::default(),
        item_ids: LocalIds::default(),
    };
    let mut checked = CheckedPath {
        name,
        format,
        csv: None,
        columns: None,
        blank_line: blank,
        keep_times: opts.timestamps,
    };
    let result = parse_lines(&mut lines, &mut checked, &mut sink);
    let failed = result.is_err();
    sink.users.seen = Vec::new();
    sink.item_ids.seen = Vec::new();
    RangeOut {
        start: 0,
        count: sink.len,
        overflow: sink.overflow,
        runs: sink.runs,
        users: sink.users,
        items: sink.item_ids,
        lines: lines.line - offset,
        blank: checked
            .blank_line
            .filter(|_| blank.is_none())
            .map(|b| b - offset),
        failed,
        error: result.err(),
    }
}

/// The ids of one range in order of first appearance, as keys: an integer id written
/// canonically ([`canonical_int`]) is its value, any other id [`TEXT`] plus its index in
/// `texts`.
#[derive(Default)]
struct LocalIds {
    /// One bit per integer id value seen (dropped once the range is parsed).
    seen: Vec<u64>,
    text: HashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
    first: Vec<u32>,
}

impl LocalIds {
    #[inline(always)]
    fn int(&mut self, v: u32) -> u32 {
        let (w, bit) = ((v / 64) as usize, 1u64 << (v % 64));
        if w >= self.seen.len() {
            self.seen.resize(w + 1, 0);
        }
        if self.seen[w] & bit == 0 {
            self.seen[w] |= bit;
            self.first.push(v);
        }
        v
    }

    /// The key of an id read as text, as the streaming loader's integer cache would take it.
    fn text(&mut self, s: &str) -> u32 {
        if let Some(v) = canonical_int(s.as_bytes()) {
            return self.int(v as u32);
        }
        if let Some(&k) = self.text.get(s) {
            return k;
        }
        let k = TEXT | self.texts.len() as u32;
        self.texts.push(s.into());
        self.text.insert(s.into(), k);
        self.first.push(k);
        k
    }
}

/// The ids of the whole file and, for each range, the dense index of each of its text keys.
struct MergedIds {
    map: IdMap,
    /// The dense index of each integer id value (`u32::MAX` for values not seen).
    dense: Vec<u32>,
    text: Vec<Vec<u32>>,
}

impl MergedIds {
    #[inline(always)]
    fn index(&self, key: u32, text: &[u32]) -> u32 {
        if key & TEXT == 0 {
            self.dense[key as usize]
        } else {
            text[(key & !TEXT) as usize]
        }
    }
}

/// Numbers the ids of the ranges (in file order) by first appearance.
fn merge_ids<'a>(ranges: impl Iterator<Item = &'a LocalIds> + Clone) -> MergedIds {
    // At least the ids of the range with the most: fewer rehashes of the map.
    let most = ranges.clone().map(|ids| ids.first.len()).max().unwrap_or(0);
    let mut merged = MergedIds {
        map: IdMap::with_capacity(most),
        dense: Vec::new(),
        text: Vec::new(),
    };
    for ids in ranges {
        let mut text = vec![u32::MAX; ids.texts.len()];
        for &key in &ids.first {
            if key & TEXT == 0 {
                let v = key as usize;
                if v >= merged.dense.len() {
                    merged.dense.resize(v + 1, u32::MAX);
                }
                if merged.dense[v] == u32::MAX {
                    merged.dense[v] = merged.map.intern(&key.to_string());
                }
            } else {
                let k = (key & !TEXT) as usize;
                text[k] = merged.map.intern(&ids.texts[k]);
            }
        }
        merged.text.push(text);
    }
    merged
}

/// The sink of one range: ratings written into the range's slots (items by id key), users
/// as runs.
struct RangeSink<'p, 's> {
    name: &'p Path,
    scale: RatingScale,
    items: &'s mut [u32],
    values: &'s mut [f64],
    /// Empty when times are not kept.
    times: &'s mut [i64],
    len: usize,
    overflow: bool,
    runs: Vec<(u32, u32)>,
    users: LocalIds,
    item_ids: LocalIds,
}

impl RangeSink<'_, '_> {
    #[inline(always)]
    fn push(
        &mut self,
        u: u32,
        i: u32,
        value: f64,
        time: Option<i64>,
        line_no: usize,
    ) -> Result<(), RatingsError> {
        if !self.scale.contains(value) {
            crate::ratings::check_value(self.name, self.scale, value, line_no)?;
        }
        let k = self.len;
        let (Some(item), Some(v)) = (self.items.get_mut(k), self.values.get_mut(k)) else {
            self.overflow = true;
            return Ok(());
        };
        *item = i;
        *v = value;
        if let (Some(t), Some(slot)) = (time, self.times.get_mut(k)) {
            *slot = t;
        }
        self.len = k + 1;
        match self.runs.last_mut() {
            Some(run) if run.0 == u => run.1 += 1,
            _ => self.runs.push((u, 1)),
        }
        Ok(())
    }
}

impl Sink for RangeSink<'_, '_> {
    #[inline(always)]
    fn push_fast(&mut self, f: FastLine<'_>, line_no: usize) -> Result<(), RatingsError> {
        let key = int_key(f.user);
        let u = match self.runs.last() {
            Some(&(k, _)) if k == key => key,
            _ => self.users.int(key),
        };
        let i = self.item_ids.int(int_key(f.item));
        self.push(u, i, f.rating, Some(f.time), line_no)
    }

    fn push_checked(
        &mut self,
        user: &str,
        item: &str,
        value: f64,
        time: i64,
        line_no: usize,
    ) -> Result<(), RatingsError> {
        let u = self.users.text(user);
        let i = self.item_ids.text(item);
        self.push(u, i, value, Some(time), line_no)
    }

    fn push_text(
        &mut self,
        user: &str,
        item: &str,
        value: f64,
        time: Option<i64>,
        line_no: usize,
    ) -> Result<(), RatingsError> {
        let u = self.users.text(user);
        let i = self.item_ids.text(item);
        self.push(u, i, value, time, line_no)
    }
}

/// The key of an integer id the fast path read (below [`super::IntIds::LIMIT`], so below
/// [`TEXT`]).
#[inline(always)]
fn int_key(id: IntId<'_>) -> u32 {
    id.value as u32
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::path::PathBuf;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::super::load_file;
    use super::*;
    use crate::DuplicatePolicy;

    /// A MovieLens-shaped file with a bit of everything the checked path accepts: ids with
    /// leading zeros, long ids, ratings like `4.25` and `1e0`, `\r\n` endings, a byte-order
    /// mark, trailing blank lines. Pairs are distinct unless `repeats`.
    fn generated(rng: &mut ChaCha8Rng, n: usize, sep: &str, repeats: bool) -> String {
        let mut s = String::from("\u{feff}");
        let mut seen = std::collections::HashSet::new();
        let id = |rng: &mut ChaCha8Rng, k: u32| -> String {
            match rng.random_range(0..20) {
                0 => format!("00{k}"),
                1 => format!("{}", 90_000_000 + k),
                2 => format!("{}", 5_000_000 + k),
                _ => format!("{k}"),
            }
        };
        let mut lines = 0;
        while lines < n {
            let (u, i) = (rng.random_range(0..60u32), rng.random_range(0..40u32));
            let (u, i) = (id(rng, u), id(rng, i));
            if !repeats && !seen.insert((u.clone(), i.clone())) {
                continue;
            }
            let rating = match rng.random_range(0..10) {
                0 => "4.25".to_string(),
                1 => "1e0".to_string(),
                2 => format!("{}.5", rng.random_range(1..5)),
                3 => format!("{}.0", rng.random_range(1..6)),
                _ => format!("{}", rng.random_range(1..6)),
            };
            let time = rng.random_range(0..2_000_000_000u64);
            let end = if rng.random_range(0..8) == 0 {
                "\r\n"
            } else {
                "\n"
            };
            let _ = write!(s, "{u}{sep}{i}{sep}{rating}{sep}{time}{end}");
            lines += 1;
        }
        s.push_str("\n  \n");
        s
    }

    fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Loads `path` streaming, then in parallel with several range lengths on 1 and 3 threads,
    /// and checks that every parallel result (or error message) is the streaming one.
    fn same_both_ways(path: &Path, opts: &LoadOptions) -> Result<Ratings, String> {
        let seq = load_file(path, opts, u64::MAX, RANGE_BYTES);
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for range in [1, 7, 64, 1000, 1 << 20] {
                let par = pool.install(|| load_file(path, opts, 0, range));
                match (&seq, &par) {
                    (Ok((a, fa)), Ok((b, fb))) => {
                        assert_eq!(fa, fb);
                        assert_identical(a, b);
                    }
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                    _ => panic!(
                        "streaming {:?} but parallel ({threads} threads, ranges of {range}) {:?}",
                        seq.as_ref().map(|r| r.0.nnz()).map_err(|e| e.to_string()),
                        par.as_ref().map(|r| r.0.nnz()).map_err(|e| e.to_string())
                    ),
                }
            }
        }
        seq.map(|(r, _)| r).map_err(|e| e.to_string())
    }

    fn assert_identical(a: &Ratings, b: &Ratings) {
        assert_eq!(a.users(), b.users());
        assert_eq!(a.items(), b.items());
        assert_eq!(a.scale(), b.scale());
        assert_eq!(
            a.csr().indptr().raw_storage(),
            b.csr().indptr().raw_storage()
        );
        assert_eq!(a.csr().indices(), b.csr().indices());
        let bits = |d: &[f64]| d.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a.csr().data()), bits(b.csr().data()));
        assert_eq!(
            a.csc().indptr().raw_storage(),
            b.csc().indptr().raw_storage()
        );
        assert_eq!(a.csc().indices(), b.csc().indices());
        assert_eq!(bits(a.csc().data()), bits(b.csc().data()));
        assert_eq!(a.csc_to_csr(), b.csc_to_csr());
        assert_eq!(a.times(), b.times());
    }

    #[test]
    fn parallel_loads_are_the_streaming_loads() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let text = generated(&mut rng, 1500, "::", false);
        let path = write(dir.path(), "ratings.dat", &text);
        let r = same_both_ways(&path, &LoadOptions::default()).unwrap();
        assert_eq!(r.nnz(), 1500);
        assert!(r.times().is_some());
        // Ids in order of first appearance, with the text they had (the BOM is not part of the
        // first id).
        let first: Vec<&str> = text
            .trim_start_matches('\u{feff}')
            .lines()
            .next()
            .unwrap()
            .split("::")
            .collect();
        assert_eq!(r.users().external(0), first[0]);
        assert_eq!(r.items().external(0), first[1]);
        same_both_ways(&path, &LoadOptions::default().timestamps(false)).unwrap();
        // A name that says nothing: the format comes from the first line.
        let path = write(dir.path(), "ratings.txt", &text);
        same_both_ways(&path, &LoadOptions::default()).unwrap();

        let text = generated(&mut rng, 1500, "\t", false);
        let path = write(dir.path(), "u.data", &text);
        assert_eq!(
            same_both_ways(&path, &LoadOptions::default())
                .unwrap()
                .nnz(),
            1500
        );

        // Repeats across ranges, merged by the policy (times too).
        let text = generated(&mut rng, 3000, "::", true);
        let path = write(dir.path(), "ratings.dat", &text);
        for policy in [DuplicatePolicy::KeepLast, DuplicatePolicy::Mean] {
            let r = same_both_ways(&path, &LoadOptions::default().duplicates(policy)).unwrap();
            assert!(r.nnz() < 3000);
        }
    }

    #[test]
    fn files_in_csr_order_load_the_same_both_ways() {
        // The first user rates every item, so items are numbered in id order and every later
        // row, written in id order, is sorted: the input is in CSR order.
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut text = String::new();
        for u in 0..300 {
            for i in 0..50 {
                if u == 0 || rng.random_range(0..4) == 0 {
                    let r = rng.random_range(1..6);
                    let _ = writeln!(text, "{u}::{i}::{r}::{}", 1000 + u * 50 + i);
                }
            }
        }
        let path = write(dir.path(), "ratings.dat", &text);
        let r = same_both_ways(&path, &LoadOptions::default()).unwrap();
        assert_eq!(r.items().external(49), "49");
        let first_row: Vec<i64> = (1000..1050).collect();
        assert_eq!(r.user_times(0), Some(&first_row[..]));
        same_both_ways(&path, &LoadOptions::default().timestamps(false)).unwrap();
    }

    #[test]
    fn files_grouped_by_user_load_the_same_both_ways() {
        // Each user's ratings together (the parsed arrays become the CSR arrays), items in
        // no particular order within a user (rows are sorted after), users not in id order.
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut text = String::new();
        for k in 0..200u32 {
            let u = (k * 37) % 200;
            let mut items: Vec<u32> = (0..60).filter(|_| rng.random_range(0..3) == 0).collect();
            for j in (1..items.len()).rev() {
                items.swap(j, rng.random_range(0..=j));
            }
            for i in items {
                let r = rng.random_range(1..6);
                let t = rng.random_range(0..2_000_000_000u64);
                let _ = writeln!(text, "{u}::{i}::{r}::{t}");
            }
        }
        let path = write(dir.path(), "ratings.dat", &text);
        let r = same_both_ways(&path, &LoadOptions::default()).unwrap();
        assert!(r.times().is_some());
        same_both_ways(&path, &LoadOptions::default().timestamps(false)).unwrap();
    }

    #[test]
    fn parallel_errors_are_the_streaming_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let text = generated(&mut rng, 1000, "::", false);
        let body = text.trim_end();
        let lines: Vec<&str> = body.lines().collect();
        let with = |edits: &[(usize, &str)]| {
            let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            for &(k, e) in edits {
                l[k] = e.to_string();
            }
            l.join("\n") + "\n"
        };
        let cases: Vec<(String, &str)> = vec![
            // Two bad lines in later ranges: the first in the file is named.
            (with(&[(700, "1::2::x::5"), (900, "1::2")]), "ratings.dat:701: rating \"x\""),
            (with(&[(900, "1::2"), (950, "1::2::x::5")]), "ratings.dat:901: missing field"),
            (with(&[(640, "3::4::9::5")]), "ratings.dat:641"),
            // A repeated pair whose ratings lie far apart.
            (with(&[(100, "777::888::3::4"), (880, "777::888::5::6")]), "ratings.dat:881: duplicate rating of item \"888\" by user \"777\" (first seen on line 101)"),
            // A blank line, then data ranges later.
            (with(&[(500, "   ")]), "ratings.dat:501: blank line inside the data (line 502"),
            (with(&[(5, "1::\u{feff}2::3::4")]), "ratings.dat:6: item id"),
            // A byte-order mark is stripped from the file's first line only.
            (with(&[(6, "\u{feff}1::2::3::4")]), "ratings.dat:7: user id"),
        ];
        for (text, want) in cases {
            let path = write(dir.path(), "ratings.dat", &text);
            let e = same_both_ways(&path, &LoadOptions::default()).unwrap_err();
            assert!(e.contains(want), "{e} should contain {want}");
        }
        let path = write(dir.path(), "ratings.dat", "\n\n \n");
        let e = same_both_ways(&path, &LoadOptions::default()).unwrap_err();
        assert!(e.contains("no ratings") || e.contains("empty"), "{e}");
    }

    #[test]
    fn lines_longer_than_a_window_are_the_streaming_errors() {
        // Windows of 8 ranges of 7 bytes: a 300-byte line spans many of them, and the file
        // ends without a line end.
        let dir = tempfile::tempdir().unwrap();
        let long = "9".repeat(300);
        let text = format!("1::2::3::4\n{long}::5::3::4\n6::7::2::1");
        let path = write(dir.path(), "ratings.dat", &text);
        let opts = LoadOptions::default().max_line_bytes(100);
        let e = same_both_ways(&path, &opts).unwrap_err();
        assert!(e.contains("ratings.dat:2"), "{e}");
        let r = same_both_ways(&path, &LoadOptions::default()).unwrap();
        assert_eq!(r.nnz(), 3);
    }

    #[test]
    fn ranges_end_at_line_ends() {
        let data = b"a\nbb\n\nccc\nd";
        for len in 1..14 {
            let ranges = split_at_lines(data, len);
            assert_eq!(ranges[0].0, 0);
            assert_eq!(ranges.last().unwrap().1, data.len());
            for w in ranges.windows(2) {
                assert_eq!(w[0].1, w[1].0);
                assert_eq!(data[w[0].1 - 1], b'\n');
            }
        }
        assert!(split_at_lines(b"", 4).is_empty());
    }
}
