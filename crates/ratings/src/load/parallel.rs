//! The parallel loader for large regular files in a MovieLens format (`ratings.dat`,
//! `u.data`): the file is read in windows of a few hundred MiB, each cut into byte ranges at
//! line starts, and the ranges are parsed in parallel (rayon) by the same line parser as the
//! streaming loader ([`parse_lines`]), each into buffers of its own. The result is bit for bit
//! the streaming loader's, whatever the number of threads:
//!
//! - **Ids**: each range keeps its ids in order of first appearance (integer ids by value,
//!   others as text); the ranges' lists, merged in file order, give every id the dense index
//!   the streaming loader gives it (ids numbered in order of first appearance in the file), and
//!   each range's ratings are then renumbered.
//! - **Line numbers and errors**: a range counts its lines from 1; the ranges' line counts give
//!   each range its first line. The first range (in file order) that failed, or that has a
//!   rating after a blank line of an earlier range, is parsed again with its true first line
//!   and the blank-line state of the ranges before it, which yields exactly the streaming
//!   loader's error.
//! - **Memory**: only one window of text is held at a time; the ranges' ratings are bucketed
//!   by user straight into the CSR arrays (no concatenated copy), each range freed once placed,
//!   rows sorted on all threads, as [`RatingsBuilder::build`] would order them. Input with a
//!   repeated (user, item) pair, found only then, is loaded again by the streaming loader,
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
use crate::{IdMap, RatingScale, Ratings, RatingsBuilder, RatingsError, Triple};

/// Files at least this large (in bytes) take the parallel loader.
pub(super) const THRESHOLD: u64 = 16 << 20;

/// The length of one byte range (ranges end at the first line end at or after a multiple of
/// it): a few ranges a thread on large files, and buffers large enough that the allocator
/// gives them back to the system when they are freed (4 MiB ranges left the peak memory
/// about 0.4 GB higher on a 25M-rating file).
pub(super) const RANGE_BYTES: usize = 32 << 20;

/// A key marks an id kept as text (its index in the range's text list) rather than an integer.
const TEXT: u32 = 1 << 31;

/// Ranges parsed at a time: the file is read in windows of this many ranges, so the text in
/// memory stays bounded (about 256 MiB with the default ranges) whatever the file's size.
pub(super) const WINDOW_RANGES: usize = 8;

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
    let mut buf: Vec<u8> = Vec::new();
    let mut outs: Vec<RangeOut<'_>> = Vec::new();
    // Lines before the window, and the first blank line after which only blank lines came.
    let mut offset = 0;
    let mut blank: Option<usize> = None;
    let mut first_window = true;
    loop {
        let eof = fill(&mut file, &mut buf, window, opts.max_line_bytes, name)?;
        if first_window && buf.starts_with(&GZIP_MAGIC) {
            return Ok(None);
        }
        let cut = if eof {
            buf.len()
        } else {
            memchr::memrchr(b'\n', &buf).map_or(buf.len(), |p| p + 1)
        };
        let text = &buf[..cut];
        let ranges = split_at_lines(text, range_bytes);
        let parsed: Vec<RangeOut<'_>> = ranges
            .par_iter()
            // Lines count from 1 in each range; a range after the file's first starts at
            // "line 2" so that its first line is not taken for the file's first (a byte-order
            // mark is stripped there only).
            .map(|&(a, b)| {
                let later = usize::from(a > 0 || !first_window);
                parse_range(&text[a..b], name, opts, format, later, None)
            })
            .collect();
        // The first error in file order, exactly as the streaming loader reports it.
        for (k, out) in parsed.iter().enumerate() {
            if out.failed || (blank.is_some() && !out.sink.entries.is_empty()) {
                let (a, b) = ranges[k];
                let again = parse_range(&text[a..b], name, opts, format, offset, blank);
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
        outs.extend(parsed);
        buf.drain(..cut);
        first_window = false;
        if eof && buf.is_empty() {
            break;
        }
    }
    drop(buf);
    assemble(outs, name, opts, format).map(Some)
}

/// Reads from `file` onto `buf` until it holds at least `window` bytes with a line end in
/// them (or a line longer than `max_line` bytes, which the parser reports), or the file ends;
/// says whether it ended.
fn fill(
    file: &mut File,
    buf: &mut Vec<u8>,
    window: usize,
    max_line: usize,
    name: &Path,
) -> Result<bool, RatingsError> {
    const BLOCK: usize = 1 << 20;
    loop {
        let enough = buf.len() >= window
            && (buf.len() > max_line.saturating_add(window)
                || memchr::memchr(b'\n', buf).is_some());
        if enough {
            return Ok(false);
        }
        let old = buf.len();
        let want = window.saturating_sub(old).max(BLOCK);
        buf.resize(old + want, 0);
        let got = loop {
            match file.read(&mut buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    buf.truncate(old);
                    return Err(super::io_error(name, e));
                }
            }
        };
        buf.truncate(old + got);
        if got == 0 {
            return Ok(true);
        }
    }
}

/// The streaming loader's result for the file (for input the parallel path does not
/// assemble itself).
fn streaming(name: &Path, opts: &LoadOptions, format: Format) -> Result<Ratings, RatingsError> {
    super::load_streaming(name, &opts.format(format)).map(|(r, _)| r)
}

/// The ratings of the parsed ranges (in file order): ids numbered by first appearance, then
/// the CSR arrays, each range's buffers freed as soon as they are copied.
fn assemble(
    outs: Vec<RangeOut<'_>>,
    name: &Path,
    opts: &LoadOptions,
    format: Format,
) -> Result<Ratings, RatingsError> {
    // Dense indices in order of first appearance in the file.
    let users = merge_ids(outs.iter().map(|o| &o.sink.users));
    let items = merge_ids(outs.iter().map(|o| &o.sink.items));
    let mut outs = outs;
    outs.par_iter_mut().enumerate().for_each(|(k, out)| {
        let (users_text, items_text) = (&users.text[k], &items.text[k]);
        for t in &mut out.sink.entries {
            t.user = users.index(t.user, users_text);
            t.item = items.index(t.item, items_text);
        }
    });

    let total: usize = outs.iter().map(|o| o.sink.entries.len()).sum();
    if total > 0 && u32::try_from(total).is_ok() {
        if in_csr_order(&outs) {
            return assemble_in_order(outs, users.map, items.map, opts, total);
        }
        let Some(csr) = bucket(outs, users.map.len(), opts, total) else {
            // A (user, item) pair repeats: the streaming loader applies the duplicate policy
            // and names the lines (the ranges' buffers are gone by now).
            return streaming(name, opts, format);
        };
        let (row_ptr, indices, data, times) = csr;
        let csr = sprs::CsMatI::new((users.map.len(), items.map.len()), row_ptr, indices, data);
        let r = Ratings::assemble(users.map.into(), items.map.into(), opts.scale, csr);
        return if opts.timestamps {
            r.with_times(times)
        } else {
            Ok(r)
        };
    }
    // No rating at all (or more than the indices can count): the builder reports it.
    let mut builder = RatingsBuilder::with_maps(users.map.into(), items.map.into(), opts.scale)
        .duplicates(opts.duplicates)
        .source(name);
    builder.reserve(total);
    if opts.timestamps {
        builder.reserve_times(total);
    }
    let mut offset = 0;
    for out in outs {
        let s = &out.sink;
        builder.append_checked(&s.entries, &s.times, &s.lines, offset);
        offset += out.lines;
    }
    builder.build()
}

/// Whether the ratings of all ranges, in file order, are sorted by (user, item) without
/// repeats (as generated and saved files are).
fn in_csr_order(outs: &[RangeOut<'_>]) -> bool {
    let key = |t: &Triple| (t.user, t.item);
    let inside = outs
        .par_iter()
        .all(|o| o.sink.entries.windows(2).all(|w| key(&w[0]) < key(&w[1])));
    let ends: Vec<(&Triple, &Triple)> = outs
        .iter()
        .filter_map(|o| Some((o.sink.entries.first()?, o.sink.entries.last()?)))
        .collect();
    inside && ends.windows(2).all(|w| key(w[0].1) < key(w[1].0))
}

/// The ratings of ranges already in CSR order ([`in_csr_order`]), copied straight into the
/// CSR arrays on all threads (what [`RatingsBuilder::build`] gives for such input, without
/// a concatenated copy of the ratings first).
fn assemble_in_order(
    outs: Vec<RangeOut<'_>>,
    users: IdMap,
    items: IdMap,
    opts: &LoadOptions,
    total: usize,
) -> Result<Ratings, RatingsError> {
    let (n, m) = (users.len(), items.len());
    let row_ptr = row_pointers(&outs, n);
    let mut indices = vec![0u32; total];
    let mut data = vec![0f64; total];
    let mut times = vec![0i64; if opts.timestamps { total } else { 0 }];
    {
        let mut pieces = Vec::with_capacity(outs.len());
        let (mut ind, mut dat, mut tim) = (&mut indices[..], &mut data[..], &mut times[..]);
        for o in outs {
            let len = o.sink.entries.len();
            let (a, rest) = ind.split_at_mut(len);
            ind = rest;
            let (b, rest) = dat.split_at_mut(len);
            dat = rest;
            let (c, rest) = tim.split_at_mut(o.sink.times.len());
            tim = rest;
            pieces.push((o, a, b, c));
        }
        // Each range is freed once copied: the zeroed arrays take memory only as they are
        // written, so the total stays about one copy of the ratings.
        pieces.into_par_iter().for_each(|(o, ind, dat, tim)| {
            for ((t, i), d) in o.sink.entries.iter().zip(ind).zip(dat) {
                *i = t.item;
                *d = t.value;
            }
            tim.copy_from_slice(&o.sink.times);
        });
    }
    let csr = sprs::CsMatI::new((n, m), row_ptr, indices, data);
    let r = Ratings::assemble(users.into(), items.into(), opts.scale, csr);
    if opts.timestamps {
        r.with_times(times)
    } else {
        Ok(r)
    }
}

/// The CSR row pointers of the ranges' ratings over `n_users` users.
fn row_pointers(outs: &[RangeOut<'_>], n_users: usize) -> Vec<u32> {
    let mut row_ptr = vec![0u32; n_users + 1];
    for o in outs {
        for t in &o.sink.entries {
            row_ptr[t.user as usize + 1] += 1;
        }
    }
    for u in 0..n_users {
        row_ptr[u + 1] += row_ptr[u];
    }
    row_ptr
}

/// The CSR arrays (row pointers, items, values, times) of the ratings of all ranges, as
/// [`RatingsBuilder::build`] makes them (a stable counting sort by user in file order, then
/// each unsorted row sorted by item, input order kept among equal items), straight from the
/// ranges, each freed once its ratings are placed; `None` when a (user, item) pair repeats.
#[allow(clippy::type_complexity)]
fn bucket(
    outs: Vec<RangeOut<'_>>,
    n_users: usize,
    opts: &LoadOptions,
    total: usize,
) -> Option<(Vec<u32>, Vec<u32>, Vec<f64>, Vec<i64>)> {
    let row_ptr = row_pointers(&outs, n_users);
    let mut indices = vec![0u32; total];
    let mut data = vec![0f64; total];
    let mut times = vec![0i64; if opts.timestamps { total } else { 0 }];
    place_by_user(outs, &row_ptr, &mut indices, &mut data, &mut times);

    // Rows are sorted in groups of about `GROUP` ratings, on all threads.
    const GROUP: usize = 1 << 16;
    let mut groups = Vec::new();
    let (mut ind, mut dat, mut tim) = (&mut indices[..], &mut data[..], &mut times[..]);
    let mut u = 0;
    while u < n_users {
        let start = row_ptr[u] as usize;
        let mut v = u + 1;
        while v < n_users && (row_ptr[v + 1] as usize) - start <= GROUP {
            v += 1;
        }
        let len = row_ptr[v] as usize - start;
        let (a, rest) = ind.split_at_mut(len);
        ind = rest;
        let (b, rest) = dat.split_at_mut(len);
        dat = rest;
        let (c, rest) = tim.split_at_mut(if opts.timestamps { len } else { 0 });
        tim = rest;
        groups.push((&row_ptr[u..=v], a, b, c));
        u = v;
    }
    let repeats = groups
        .into_par_iter()
        .map(|(ptr, ind, dat, tim)| sort_rows(ptr, ind, dat, tim))
        .reduce(|| false, |a, b| a || b);
    (!repeats).then_some((row_ptr, indices, data, times))
}

/// Ranges placed per turn by [`place_by_user`]: each worker reads all of a turn's ratings, and a
/// turn's buffers are freed once it is placed, so memory stays about one copy of the ratings.
const RANGES_PER_TURN: usize = 2;

/// The stable counting sort by user of [`bucket`]: each range's ratings, in file order, go to
/// their user's next free slot of the CSR arrays (`times` empty when not kept). Parallel over
/// ranges of users of about equal size, one per worker: each owns its contiguous slice of the
/// arrays and takes the ratings of its users from every range, in file order, so the writes are
/// disjoint without `unsafe` and the result is the same for any number of threads.
fn place_by_user(
    outs: Vec<RangeOut<'_>>,
    row_ptr: &[u32],
    indices: &mut [u32],
    data: &mut [f64],
    times: &mut [i64],
) {
    let keep_times = !times.is_empty();
    let cuts = crate::ratings::equal_cuts(row_ptr, rayon::current_num_threads());
    // (first user, users' next slots relative to the slice, items, values, times)
    let mut slices = Vec::with_capacity(cuts.len());
    let (mut ind, mut dat, mut tim) = (indices, data, times);
    for w in cuts.windows(2) {
        let base = row_ptr[w[0]];
        let len = (row_ptr[w[1]] - base) as usize;
        let (a, rest) = std::mem::take(&mut ind).split_at_mut(len);
        ind = rest;
        let (b, rest) = std::mem::take(&mut dat).split_at_mut(len);
        dat = rest;
        let (c, rest) = std::mem::take(&mut tim).split_at_mut(if keep_times { len } else { 0 });
        tim = rest;
        let next: Vec<u32> = row_ptr[w[0]..w[1]].iter().map(|&p| p - base).collect();
        slices.push((w[0], w[1], next, a, b, c));
    }
    let mut outs = outs.into_iter().peekable();
    while outs.peek().is_some() {
        let turn: Vec<RangeOut<'_>> = outs.by_ref().take(RANGES_PER_TURN).collect();
        slices
            .par_iter_mut()
            .for_each(|(u0, u1, next, ind, dat, tim)| {
                let (u0, u1) = (*u0 as u32, *u1 as u32);
                for o in &turn {
                    for (p, t) in o.sink.entries.iter().enumerate() {
                        if t.user < u0 || t.user >= u1 {
                            continue;
                        }
                        let slot = &mut next[(t.user - u0) as usize];
                        let k = *slot as usize;
                        ind[k] = t.item;
                        dat[k] = t.value;
                        if keep_times {
                            tim[k] = o.sink.times[p];
                        }
                        *slot += 1;
                    }
                }
            });
        // `turn` is dropped here: its ranges' buffers are freed.
    }
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

/// What parsing one range gave.
struct RangeOut<'p> {
    sink: RangeSink<'p>,
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
/// earlier range (if any), into buffers of its own; the lines it keeps are counted from the
/// range's first line (1).
fn parse_range<'p>(
    bytes: &[u8],
    name: &'p Path,
    opts: &LoadOptions,
    format: Format,
    offset: usize,
    blank: Option<usize>,
) -> RangeOut<'p> {
    let mut lines = LineReader::new(bytes, name, opts.max_line_bytes);
    lines.line = offset;
    let mut sink = RangeSink {
        name,
        scale: opts.scale,
        keep_times: opts.timestamps,
        entries: Vec::with_capacity(bytes.len() / 16),
        times: Vec::with_capacity(if opts.timestamps { bytes.len() / 16 } else { 0 }),
        lines: Vec::new(),
        users: LocalIds::default(),
        items: LocalIds::default(),
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
    sink.items.seen = Vec::new();
    for l in &mut sink.lines {
        l.1 -= offset;
    }
    RangeOut {
        lines: lines.line - offset,
        blank: checked
            .blank_line
            .filter(|_| blank.is_none())
            .map(|b| b - offset),
        failed,
        error: result.err(),
        sink,
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
fn merge_ids<'a>(ranges: impl Iterator<Item = &'a LocalIds>) -> MergedIds {
    let mut merged = MergedIds {
        map: IdMap::new(),
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

/// The sink of one range: ratings by id keys, times, and line numbers counted in the range.
struct RangeSink<'p> {
    name: &'p Path,
    scale: RatingScale,
    keep_times: bool,
    entries: Vec<Triple>,
    times: Vec<i64>,
    /// `(position, line)` for the first rating and each one not on the line after the one
    /// before.
    lines: Vec<(usize, usize)>,
    users: LocalIds,
    items: LocalIds,
}

impl RangeSink<'_> {
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
        let pos = self.entries.len();
        let expected = self.lines.last().map(|&(p, l)| l + (pos - p));
        if expected != Some(line_no) {
            self.lines.push((pos, line_no));
        }
        self.entries.push(Triple::new(u, i, value));
        if let Some(t) = time.filter(|_| self.keep_times) {
            self.times.push(t);
        }
        Ok(())
    }
}

impl Sink for RangeSink<'_> {
    #[inline(always)]
    fn push_fast(&mut self, f: FastLine<'_>, line_no: usize) -> Result<(), RatingsError> {
        let u = self.users.int(int_key(f.user));
        let i = self.items.int(int_key(f.item));
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
        let i = self.items.text(item);
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
        let i = self.items.text(item);
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
