//! The `Ratings` type: a sparse users x items matrix with both row and column access.

use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sprs::CsMatI;

use crate::{IdMap, Location, RatingScale, RatingsError};

/// One observed rating, by dense indices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Triple {
    /// Dense user index.
    pub user: u32,
    /// Dense item index.
    pub item: u32,
    /// The rating.
    pub value: f64,
}

impl Triple {
    /// A triple from its parts.
    pub fn new(user: u32, item: u32, value: f64) -> Self {
        Triple { user, item, value }
    }
}

/// What to do when the same (user, item) pair is rated more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DuplicatePolicy {
    /// A duplicate is an error naming both lines (the default: duplicates usually mean a bug).
    #[default]
    Error,
    /// The rating that comes last in the input wins.
    KeepLast,
    /// The mean of all ratings of the pair.
    Mean,
}

/// A sparse ratings matrix: n users x m items, CSR with a CSC index for column passes.
///
/// Memory is the CSR (values and item indices), the CSC (values and user indices), the
/// CSC -> CSR position map, the two id maps and, when the input had them, one timestamp per
/// rating (seconds since the Unix epoch, in CSR order); nothing of size users x items.
/// Id maps are shared (`Arc`) between a data set and its splits or attacked copies.
///
/// ```
/// use cnmf_ratings::{Ratings, RatingScale};
/// let r = Ratings::from_external(
///     [("alice", "up", 5.0), ("bob", "up", 3.0), ("alice", "heat", 1.0)],
///     RatingScale::MOVIELENS,
/// ).unwrap();
/// assert_eq!((r.n_users(), r.n_items(), r.nnz()), (2, 2, 3));
/// let alice = r.users().index("alice").unwrap();
/// let up = r.items().index("up").unwrap();
/// assert_eq!(r.get(alice, up), Some(5.0));
/// let (users, values) = r.item(up);
/// assert_eq!(users.len(), 2);
/// assert_eq!(values.iter().sum::<f64>(), 8.0);
/// ```
#[derive(Debug, Clone)]
pub struct Ratings {
    users: Arc<IdMap>,
    items: Arc<IdMap>,
    scale: RatingScale,
    csr: CsMatI<f64, u32>,
    csc: CsMatI<f64, u32>,
    csc_to_csr: Vec<u32>,
    /// One timestamp per rating in CSR order, when the input had them.
    times: Option<Vec<i64>>,
}

impl Ratings {
    /// Builds ratings from `(user id, item id, rating)` triples with external ids; duplicates are
    /// an error. Ids are numbered in order of first appearance.
    pub fn from_external<'a>(
        triples: impl IntoIterator<Item = (&'a str, &'a str, f64)>,
        scale: RatingScale,
    ) -> Result<Ratings, RatingsError> {
        let mut b = RatingsBuilder::new(scale);
        for (line, (u, i, r)) in triples.into_iter().enumerate() {
            b.push(u, i, r, line + 1)?;
        }
        b.build()
    }

    /// Builds ratings over existing id maps from dense triples (for splits, attacks and
    /// generators). Every index must be inside the maps; values must lie in the scale.
    pub fn from_triples(
        users: Arc<IdMap>,
        items: Arc<IdMap>,
        scale: RatingScale,
        triples: &[Triple],
        policy: DuplicatePolicy,
    ) -> Result<Ratings, RatingsError> {
        let mut b = RatingsBuilder::with_maps(users, items, scale).duplicates(policy);
        b.reserve(triples.len());
        for (pos, t) in triples.iter().enumerate() {
            b.push_indexed(t.user, t.item, t.value, pos + 1)?;
        }
        b.build()
    }

    /// Like [`from_triples`](Self::from_triples), with one timestamp per triple (seconds since
    /// the Unix epoch; `times[p]` belongs to `triples[p]`): the ratings keep them in CSR order.
    /// A merged duplicate takes the time of the rating kept (keep-last) or the latest time
    /// (mean).
    ///
    /// # Panics
    /// When `times.len() != triples.len()`.
    pub fn from_timed_triples(
        users: Arc<IdMap>,
        items: Arc<IdMap>,
        scale: RatingScale,
        triples: &[Triple],
        times: &[i64],
        policy: DuplicatePolicy,
    ) -> Result<Ratings, RatingsError> {
        assert_eq!(times.len(), triples.len(), "one timestamp per triple");
        let mut b = RatingsBuilder::with_maps(users, items, scale).duplicates(policy);
        b.reserve(triples.len());
        for (pos, (t, &time)) in triples.iter().zip(times).enumerate() {
            b.push_indexed_at(t.user, t.item, t.value, time, pos + 1)?;
        }
        b.build()
    }

    /// Builds ratings straight from CSR arrays over existing id maps (for generators and
    /// filters that produce rows in order): `indptr` has `users.len() + 1` nondecreasing offsets
    /// starting at 0, each row's item indices are strictly ascending and below `items.len()`,
    /// and every value lies in the scale. Everything is checked in one O(nnz) pass; nothing is
    /// copied besides building the CSC.
    ///
    /// Errors: [`RatingsError::InvalidParameter`] naming the first broken invariant,
    /// [`RatingsError::OutOfScale`] (with the CSR position as the line) for a bad value.
    pub fn from_csr(
        users: Arc<IdMap>,
        items: Arc<IdMap>,
        scale: RatingScale,
        indptr: Vec<u32>,
        indices: Vec<u32>,
        data: Vec<f64>,
    ) -> Result<Ratings, RatingsError> {
        let bad = |reason: String| RatingsError::InvalidParameter {
            name: "csr",
            reason,
        };
        let (n, m) = (users.len(), items.len());
        if indptr.len() != n + 1 || indptr[0] != 0 {
            return Err(bad(format!(
                "indptr must have {} entries starting at 0 (has {})",
                n + 1,
                indptr.len()
            )));
        }
        if indices.len() != data.len() || indptr[n] as usize != indices.len() {
            return Err(bad(format!(
                "indptr ends at {} but there are {} indices and {} values",
                indptr[n],
                indices.len(),
                data.len()
            )));
        }
        // Monotonic offsets ending at nnz keep every row slice in bounds. The checks run on
        // every core and report the first broken row or value, as a sequential scan would.
        if let Some(u) = (0..n)
            .into_par_iter()
            .find_first(|&u| indptr[u] > indptr[u + 1])
        {
            return Err(bad(format!("indptr decreases at row {u}")));
        }
        let broken = (0..n).into_par_iter().find_map_first(|u| {
            let row = &indices[indptr[u] as usize..indptr[u + 1] as usize];
            if let Some(&last) = row.last() {
                if last as usize >= m {
                    return Some(format!("row {u} has item {last} outside 0..{m}"));
                }
            }
            row.windows(2)
                .any(|w| w[0] >= w[1])
                .then(|| format!("row {u} has item indices that are not strictly ascending"))
        });
        if let Some(reason) = broken {
            return Err(bad(reason));
        }
        if let Some(p) = data.par_iter().position_first(|&v| !scale.contains(v)) {
            return Err(RatingsError::OutOfScale {
                at: Location {
                    path: PathBuf::from("<csr>"),
                    line: p + 1,
                },
                value: data[p],
                min: scale.min(),
                max: scale.max(),
            });
        }
        let csr = CsMatI::new((n, m), indptr, indices, data);
        Ok(Ratings::assemble(users, items, scale, csr))
    }

    pub(crate) fn assemble(
        users: Arc<IdMap>,
        items: Arc<IdMap>,
        scale: RatingScale,
        csr: CsMatI<f64, u32>,
    ) -> Ratings {
        let (csc, csc_to_csr) = csc_of(&csr);
        Ratings {
            users,
            items,
            scale,
            csr,
            csc,
            csc_to_csr,
            times: None,
        }
    }

    /// These ratings with one timestamp per rating in CSR order (seconds since the Unix epoch),
    /// replacing any they had.
    ///
    /// Errors: [`RatingsError::InvalidParameter`] when `times.len() != self.nnz()`.
    pub fn with_times(mut self, times: Vec<i64>) -> Result<Ratings, RatingsError> {
        if times.len() != self.nnz() {
            return Err(RatingsError::InvalidParameter {
                name: "times",
                reason: format!(
                    "{} timestamps for {} ratings (one per rating, in CSR order)",
                    times.len(),
                    self.nnz()
                ),
            });
        }
        self.times = Some(times);
        Ok(self)
    }

    /// These ratings without timestamps (saves 8 bytes a rating).
    pub fn without_times(mut self) -> Ratings {
        self.times = None;
        self
    }

    /// The timestamp of each rating in CSR order (seconds since the Unix epoch), when the input
    /// had them. Column passes read them through [`csc_to_csr`](Self::csc_to_csr).
    pub fn times(&self) -> Option<&[i64]> {
        self.times.as_deref()
    }

    /// The timestamps of user `u`'s ratings (in the order of [`user`](Self::user)), when known.
    ///
    /// # Panics
    /// When `u >= n_users()`.
    pub fn user_times(&self, u: u32) -> Option<&[i64]> {
        let range = self.csr.indptr().outer_inds_sz(u as usize);
        self.times.as_deref().map(|t| &t[range])
    }

    /// The timestamps of item `i`'s ratings (in the order of [`item`](Self::item)), when known.
    ///
    /// # Panics
    /// When `i >= n_items()`.
    pub fn item_times(&self, i: u32) -> Option<Vec<i64>> {
        let times = self.times.as_deref()?;
        let range = self.csc.indptr().outer_inds_sz(i as usize);
        Some(
            self.csc_to_csr[range]
                .iter()
                .map(|&p| times[p as usize])
                .collect(),
        )
    }

    /// The ratings whose CSR positions are flagged in `keep`, over the same id maps and scale
    /// (used by splits: a filter of sorted rows needs no sort). The result may be empty.
    ///
    /// # Panics
    /// When `keep.len() != self.nnz()`.
    pub fn subset(&self, keep: &[bool]) -> Ratings {
        assert_eq!(
            keep.len(),
            self.nnz(),
            "keep mask must have one flag per rating"
        );
        let kept = keep.iter().filter(|&&k| k).count();
        let mut indptr = Vec::with_capacity(self.n_users() + 1);
        let mut indices = Vec::with_capacity(kept);
        let mut data = Vec::with_capacity(kept);
        let mut times = self.times.as_ref().map(|_| Vec::with_capacity(kept));
        indptr.push(0u32);
        let ip = self.csr.indptr();
        let ip = ip.raw_storage();
        let (src_i, src_v) = (self.csr.indices(), self.csr.data());
        for u in 0..self.n_users() {
            for p in ip[u] as usize..ip[u + 1] as usize {
                if keep[p] {
                    indices.push(src_i[p]);
                    data.push(src_v[p]);
                }
            }
            indptr.push(indices.len() as u32);
        }
        if let (Some(out), Some(src)) = (times.as_mut(), self.times.as_ref()) {
            out.extend(src.iter().zip(keep).filter(|(_, &k)| k).map(|(&t, _)| t));
        }
        let csr = CsMatI::new((self.n_users(), self.n_items()), indptr, indices, data);
        let mut out = Ratings::assemble(self.users.clone(), self.items.clone(), self.scale, csr);
        out.times = times;
        out
    }

    /// Number of users (rows), including users without ratings.
    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    /// Number of items (columns), including items without ratings.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// Number of observed ratings, |Omega|.
    pub fn nnz(&self) -> usize {
        self.csr.nnz()
    }

    /// The rating scale.
    pub fn scale(&self) -> RatingScale {
        self.scale
    }

    /// The user id map.
    pub fn users(&self) -> &IdMap {
        &self.users
    }

    /// The item id map.
    pub fn items(&self) -> &IdMap {
        &self.items
    }

    /// The shared user id map (cheap to clone).
    pub fn users_arc(&self) -> &Arc<IdMap> {
        &self.users
    }

    /// The shared item id map (cheap to clone).
    pub fn items_arc(&self) -> &Arc<IdMap> {
        &self.items
    }

    /// The users x items matrix in CSR form (rows sorted by item index).
    pub fn csr(&self) -> &CsMatI<f64, u32> {
        &self.csr
    }

    /// The same matrix in CSC form (columns sorted by user index).
    pub fn csc(&self) -> &CsMatI<f64, u32> {
        &self.csc
    }

    /// For each stored entry of the CSC, its position in the CSR's data array: lets per-entry
    /// state kept in CSR order (residuals, corruption flags) be read during column passes.
    pub fn csc_to_csr(&self) -> &[u32] {
        &self.csc_to_csr
    }

    /// The items user `u` rated (ascending) and the ratings.
    ///
    /// # Panics
    /// When `u >= n_users()`.
    pub fn user(&self, u: u32) -> (&[u32], &[f64]) {
        let ip = self.csr.indptr();
        let range = ip.outer_inds_sz(u as usize);
        (&self.csr.indices()[range.clone()], &self.csr.data()[range])
    }

    /// The users who rated item `i` (ascending) and the ratings.
    ///
    /// # Panics
    /// When `i >= n_items()`.
    pub fn item(&self, i: u32) -> (&[u32], &[f64]) {
        let ip = self.csc.indptr();
        let range = ip.outer_inds_sz(i as usize);
        (&self.csc.indices()[range.clone()], &self.csc.data()[range])
    }

    /// Number of ratings of user `u`.
    pub fn user_count(&self, u: u32) -> usize {
        self.user(u).0.len()
    }

    /// Number of ratings of item `i`.
    pub fn item_count(&self, i: u32) -> usize {
        self.item(i).0.len()
    }

    /// The rating of `(u, i)`, if observed (binary search in the row).
    pub fn get(&self, u: u32, i: u32) -> Option<f64> {
        if u as usize >= self.n_users() {
            return None;
        }
        let (items, values) = self.user(u);
        items.binary_search(&i).ok().map(|p| values[p])
    }

    /// All ratings in CSR order (by user, then item).
    pub fn iter(&self) -> impl Iterator<Item = Triple> + '_ {
        (0..self.n_users() as u32).flat_map(move |u| {
            let (items, values) = self.user(u);
            items
                .iter()
                .zip(values)
                .map(move |(&i, &value)| Triple::new(u, i, value))
        })
    }

    /// All ratings as a vector of triples, in CSR order.
    pub fn triples(&self) -> Vec<Triple> {
        let mut v = Vec::with_capacity(self.nnz());
        v.extend(self.iter());
        v
    }

    /// Mean of the observed ratings (0 when there are none).
    pub fn mean(&self) -> f64 {
        let d = self.csr.data();
        if d.is_empty() {
            0.0
        } else {
            d.iter().sum::<f64>() / d.len() as f64
        }
    }

    /// New ratings over the same id maps and scale from other triples with their timestamps
    /// (see [`from_timed_triples`](Self::from_timed_triples)).
    pub fn with_timed_triples(
        &self,
        triples: &[Triple],
        times: &[i64],
        policy: DuplicatePolicy,
    ) -> Result<Ratings, RatingsError> {
        Ratings::from_timed_triples(
            self.users.clone(),
            self.items.clone(),
            self.scale,
            triples,
            times,
            policy,
        )
    }

    /// New ratings over the same id maps and scale from other triples (e.g. a training split).
    pub fn with_triples(
        &self,
        triples: &[Triple],
        policy: DuplicatePolicy,
    ) -> Result<Ratings, RatingsError> {
        Ratings::from_triples(
            self.users.clone(),
            self.items.clone(),
            self.scale,
            triples,
            policy,
        )
    }
}

/// Incremental construction of [`Ratings`], used by every loader: checks each rating against the
/// scale as it arrives, remembers line numbers for error messages, and applies the duplicate
/// policy when built (sprs' `TriMat::to_csr` would silently sum duplicates, so it is not used).
#[derive(Debug)]
pub struct RatingsBuilder {
    users: Arc<IdMap>,
    items: Arc<IdMap>,
    scale: RatingScale,
    policy: DuplicatePolicy,
    source: PathBuf,
    entries: Vec<Triple>,
    /// One timestamp per entry when the `_at` methods are used (empty otherwise).
    times: Vec<i64>,
    lines: LineMap,
}

impl RatingsBuilder {
    /// An empty builder with fresh id maps.
    pub fn new(scale: RatingScale) -> Self {
        RatingsBuilder::with_maps(Arc::new(IdMap::new()), Arc::new(IdMap::new()), scale)
    }

    /// A builder over existing id maps (new external ids are appended to copies of them).
    pub fn with_maps(users: Arc<IdMap>, items: Arc<IdMap>, scale: RatingScale) -> Self {
        RatingsBuilder {
            users,
            items,
            scale,
            policy: DuplicatePolicy::Error,
            source: PathBuf::from("<memory>"),
            entries: Vec::new(),
            times: Vec::new(),
            lines: LineMap::default(),
        }
    }

    /// Sets the duplicate policy.
    pub fn duplicates(mut self, policy: DuplicatePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Names the input in error messages (a file path; `<memory>` by default).
    pub fn source(mut self, path: impl Into<PathBuf>) -> Self {
        self.source = path.into();
        self
    }

    /// Reserves room for `n` more ratings.
    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
    }

    /// Reserves room for `n` more timestamps (loaders of timed formats call it with
    /// [`reserve`](Self::reserve)).
    pub fn reserve_times(&mut self, n: usize) {
        self.times.reserve(n);
    }

    /// Number of ratings pushed so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn at(&self, line: usize) -> Location {
        Location {
            path: self.source.clone(),
            line,
        }
    }

    fn check_value(&self, value: f64, line: usize) -> Result<(), RatingsError> {
        check_value(&self.source, self.scale, value, line)
    }

    /// Adds a rating by external ids, found on 1-based `line` of the input.
    pub fn push(
        &mut self,
        user: &str,
        item: &str,
        value: f64,
        line: usize,
    ) -> Result<(), RatingsError> {
        self.check_value(value, line)?;
        let u = intern(&mut self.users, user);
        let i = intern(&mut self.items, item);
        self.lines.note(self.entries.len(), line);
        self.entries.push(Triple::new(u, i, value));
        Ok(())
    }

    /// Adds a rating with its timestamp (seconds since the Unix epoch) by external ids. Either
    /// every rating of a builder has a timestamp or none has.
    pub fn push_at(
        &mut self,
        user: &str,
        item: &str,
        value: f64,
        time: i64,
        line: usize,
    ) -> Result<(), RatingsError> {
        self.push(user, item, value, line)?;
        self.times.push(time);
        Ok(())
    }

    /// The dense index of external user id `user`, adding it when new (loaders use this with
    /// [`push_indexed`](Self::push_indexed) to skip re-hashing ids they have cached).
    pub fn intern_user(&mut self, user: &str) -> u32 {
        intern(&mut self.users, user)
    }

    /// The dense index of external item id `item`, adding it when new.
    pub fn intern_item(&mut self, item: &str) -> u32 {
        intern(&mut self.items, item)
    }

    /// Adds a rating by dense indices, which must already be in the id maps.
    #[inline(always)]
    pub fn push_indexed(
        &mut self,
        user: u32,
        item: u32,
        value: f64,
        line: usize,
    ) -> Result<(), RatingsError> {
        if user as usize >= self.users.len()
            || item as usize >= self.items.len()
            || !self.scale.contains(value)
        {
            return Err(self.push_indexed_error(user, item, value, line));
        }
        self.lines.note(self.entries.len(), line);
        self.entries.push(Triple::new(user, item, value));
        Ok(())
    }

    /// Adds a rating with its timestamp (seconds since the Unix epoch) by dense indices. Either
    /// every rating of a builder has a timestamp or none has.
    #[inline(always)]
    pub fn push_indexed_at(
        &mut self,
        user: u32,
        item: u32,
        value: f64,
        time: i64,
        line: usize,
    ) -> Result<(), RatingsError> {
        self.push_indexed(user, item, value, line)?;
        self.times.push(time);
        Ok(())
    }

    /// Why [`push_indexed`](Self::push_indexed) refused a rating (kept out of its fast path).
    #[cold]
    #[inline(never)]
    fn push_indexed_error(&self, user: u32, item: u32, value: f64, line: usize) -> RatingsError {
        if user as usize >= self.users.len() || item as usize >= self.items.len() {
            return RatingsError::IndexOutOfRange {
                position: line,
                user,
                item,
                n_users: self.users.len(),
                n_items: self.items.len(),
            };
        }
        match self.check_value(value, line) {
            Err(e) => e,
            Ok(()) => unreachable!("push_indexed checked the value"),
        }
    }

    /// Sorts, applies the duplicate policy and builds the CSR and CSC.
    ///
    /// Errors: no ratings at all ([`RatingsError::Empty`]), or a duplicate under
    /// [`DuplicatePolicy::Error`].
    pub fn build(self) -> Result<Ratings, RatingsError> {
        self.check_count()?;
        let (n, m) = (self.users.len(), self.items.len());
        assert!(
            self.times.is_empty() || self.times.len() == self.entries.len(),
            "either every rating pushed to a builder has a timestamp or none has"
        );
        // Input already in CSR order without repeats (generated or saved files, MovieLens
        // 25M): the arrays are the entries' fields, the times are kept as they are.
        if in_csr_order(&self.entries) {
            let row_ptr = bucket_starts(self.entries.iter().map(|t| t.user), n);
            let indices: Vec<u32> = self.entries.par_iter().map(|t| t.item).collect();
            let data: Vec<f64> = self.entries.par_iter().map(|t| t.value).collect();
            drop(self.entries);
            let csr = CsMatI::new((n, m), row_ptr, indices, data);
            let mut r = Ratings::assemble(self.users, self.items, self.scale, csr);
            if !self.times.is_empty() {
                r.times = Some(self.times);
            }
            return Ok(r);
        }
        if self.times.is_empty() {
            let policy = self.policy;
            let (row_ptr, indices, data) =
                self.sorted(|p| self.entries[p].value, |run| merge_values(policy, run))?;
            let csr = CsMatI::new((n, m), row_ptr, indices, data);
            return Ok(Ratings::assemble(self.users, self.items, self.scale, csr));
        }
        assert_eq!(
            self.times.len(),
            self.entries.len(),
            "either every rating pushed to a builder has a timestamp or none has"
        );
        let policy = self.policy;
        let (row_ptr, indices, both) = self.sorted(
            |p| (self.entries[p].value, self.times[p]),
            |run| merge_timed(policy, run),
        )?;
        let (data, times): (Vec<f64>, Vec<i64>) = both.into_iter().unzip();
        let csr = CsMatI::new((n, m), row_ptr, indices, data);
        let mut r = Ratings::assemble(self.users, self.items, self.scale, csr);
        r.times = Some(times);
        Ok(r)
    }

    /// The CSR arrays of the entries, each carrying `payload(p)` (its value, or its value and
    /// time) through the sort and the duplicate policy (`merge` combines a run of repeats).
    fn sorted<T: Copy + Default>(
        &self,
        payload: impl Fn(usize) -> T,
        merge: impl Fn(&[T]) -> T,
    ) -> Result<CsrParts<T>, RatingsError> {
        let mut row_ptr = bucket_starts(self.entries.iter().map(|t| t.user), self.users.len());
        let (mut indices, mut data) = bucket_by_user(&self.entries, payload, &row_ptr);
        sort_rows(&row_ptr, &mut indices, &mut data);
        if let Some((u0, p0)) = first_duplicate(&row_ptr, &indices) {
            if self.policy == DuplicatePolicy::Error {
                return Err(self.duplicate_error(u0 as u32, indices[p0]));
            }
            merge_duplicates(u0, &mut row_ptr, &mut indices, &mut data, merge);
        }
        Ok((row_ptr, indices, data))
    }

    /// Refuses no ratings at all, and more than the `u32` positions of the CSR can index.
    fn check_count(&self) -> Result<(), RatingsError> {
        if self.entries.is_empty() {
            return Err(RatingsError::Empty { at: self.at(0) });
        }
        if u32::try_from(self.entries.len()).is_err() {
            return Err(RatingsError::InvalidParameter {
                name: "ratings",
                reason: format!(
                    "{} ratings exceed the supported maximum of {}",
                    self.entries.len(),
                    u32::MAX
                ),
            });
        }
        Ok(())
    }

    /// The error for the repeated pair (`user`, `item`), naming the lines of its first two
    /// ratings in input order (found again by a scan: only this error needs them).
    fn duplicate_error(&self, user: u32, item: u32) -> RatingsError {
        let mut hits = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, t)| t.user == user && t.item == item)
            .map(|(p, _)| self.lines.line(p));
        let first_line = hits.next().unwrap_or(0);
        let line = hits.next().unwrap_or(0);
        RatingsError::Duplicate {
            at: self.at(line),
            user: self.users.external(user).to_string(),
            item: self.items.external(item).to_string(),
            first_line,
        }
    }
}

/// The error for a rating `value` on `line` of `source` that is not finite or lies outside
/// `scale` (`Ok` when it is fine): the check of [`RatingsBuilder`], shared with the parallel
/// loader so both say the same.
pub(crate) fn check_value(
    source: &std::path::Path,
    scale: RatingScale,
    value: f64,
    line: usize,
) -> Result<(), RatingsError> {
    let at = || Location {
        path: source.to_path_buf(),
        line,
    };
    if !value.is_finite() {
        return Err(RatingsError::Parse {
            at: at(),
            problem: format!("rating {value} is not a finite number"),
        });
    }
    if !scale.contains(value) {
        return Err(RatingsError::OutOfScale {
            at: at(),
            value,
            min: scale.min(),
            max: scale.max(),
        });
    }
    Ok(())
}

/// Whether `entries` are sorted by (user, item) without repeats (checked on all threads).
fn in_csr_order(entries: &[Triple]) -> bool {
    entries
        .par_windows(2)
        .all(|w| (w[0].user, w[0].item) < (w[1].user, w[1].item))
}

/// Row pointers, column indices and one payload per entry of a CSR under construction.
type CsrParts<T> = (Vec<u32>, Vec<u32>, Vec<T>);

/// The input line of each pushed rating, stored as breaks: rating `p` is on line
/// `line + (p - pos)` for the last break `(pos, line)` at or before `p`, and on line `p + 1`
/// before any break. Loaders push consecutive lines, so there are almost no breaks.
#[derive(Debug, Default)]
struct LineMap {
    breaks: Vec<(usize, u32)>,
}

impl LineMap {
    /// Records that rating `pos` (pushed in order) is on `line` (kept as a `u32`, saturating).
    #[inline]
    fn note(&mut self, pos: usize, line: usize) {
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        if self.expected(pos) != Some(line) {
            self.breaks.push((pos, line));
        }
    }

    fn expected(&self, pos: usize) -> Option<u32> {
        let (at, line) = self.breaks.last().copied().unwrap_or((0, 1));
        u32::try_from(pos - at).ok()?.checked_add(line)
    }

    /// The line of rating `pos`.
    fn line(&self, pos: usize) -> usize {
        let k = self.breaks.partition_point(|&(at, _)| at <= pos);
        let (at, line) = if k == 0 { (0, 1) } else { self.breaks[k - 1] };
        line as usize + (pos - at)
    }
}

/// The start of each of `len` buckets in a counting sort of entries by `keys` (one key an
/// entry): bucket `b` spans `starts[b]..starts[b + 1]`.
fn bucket_starts(keys: impl Iterator<Item = u32>, len: usize) -> Vec<u32> {
    let mut starts = vec![0u32; len + 1];
    for k in keys {
        starts[k as usize + 1] += 1;
    }
    for b in 0..len {
        starts[b + 1] += starts[b];
    }
    starts
}

/// The CSR span of row `u`.
#[inline]
fn row_span(row_ptr: &[u32], u: usize) -> (usize, usize) {
    (row_ptr[u] as usize, row_ptr[u + 1] as usize)
}

/// The items and payloads of `entries` in CSR order by user, input order kept within a row
/// (a stable counting sort, so repeats stay in input order for keep-last and mean).
fn bucket_by_user<T: Copy + Default>(
    entries: &[Triple],
    payload: impl Fn(usize) -> T,
    row_ptr: &[u32],
) -> (Vec<u32>, Vec<T>) {
    let nnz = entries.len();
    let mut next = row_ptr.to_vec();
    let mut indices = vec![0u32; nnz];
    let mut data = vec![T::default(); nnz];
    for (p, t) in entries.iter().enumerate() {
        let slot = &mut next[t.user as usize];
        indices[*slot as usize] = t.item;
        data[*slot as usize] = payload(p);
        *slot += 1;
    }
    (indices, data)
}

/// Sorts each row by (item, input order); rows are short, and most are already sorted.
fn sort_rows<T: Copy>(row_ptr: &[u32], indices: &mut [u32], data: &mut [T]) {
    let mut keys: Vec<u64> = Vec::new();
    let mut values: Vec<T> = Vec::new();
    for u in 0..row_ptr.len() - 1 {
        let (a, b) = row_span(row_ptr, u);
        if sort_row(&mut indices[a..b], &mut keys) {
            permute_row(&mut data[a..b], &keys, &mut values);
        }
    }
}

/// Sorts one row's item indices by (item, input order) in place, leaving in `keys` each new
/// slot's input position (low 32 bits) for [`permute_row`]; `false`, with nothing changed,
/// when the row is already strictly ascending.
pub(crate) fn sort_row(row: &mut [u32], keys: &mut Vec<u64>) -> bool {
    if row.windows(2).all(|w| w[0] < w[1]) {
        return false;
    }
    keys.clear();
    keys.extend(
        row.iter()
            .enumerate()
            .map(|(k, &i)| (u64::from(i) << 32) | k as u64),
    );
    keys.sort_unstable();
    for (i, &key) in row.iter_mut().zip(keys.iter()) {
        *i = (key >> 32) as u32;
    }
    true
}

/// Reorders a row's values as [`sort_row`] reordered its items (`scratch`: a reused buffer).
pub(crate) fn permute_row<T: Copy>(vals: &mut [T], keys: &[u64], scratch: &mut Vec<T>) {
    scratch.clear();
    scratch.extend_from_slice(vals);
    for (v, &key) in vals.iter_mut().zip(keys) {
        *v = scratch[key as u32 as usize];
    }
}

/// The rating a run of repeats (in input order) becomes under keep-last or mean.
fn merge_values(policy: DuplicatePolicy, run: &[f64]) -> f64 {
    match policy {
        DuplicatePolicy::KeepLast => run[run.len() - 1],
        DuplicatePolicy::Mean | DuplicatePolicy::Error => {
            run.iter().sum::<f64>() / run.len() as f64
        }
    }
}

/// [`merge_values`] with times: keep-last keeps the last rating's time, mean the latest time.
fn merge_timed(policy: DuplicatePolicy, run: &[(f64, i64)]) -> (f64, i64) {
    match policy {
        DuplicatePolicy::KeepLast => run[run.len() - 1],
        DuplicatePolicy::Mean | DuplicatePolicy::Error => {
            let mean = run.iter().map(|r| r.0).sum::<f64>() / run.len() as f64;
            (mean, run.iter().map(|r| r.1).max().unwrap_or(0))
        }
    }
}

/// The row and CSR position of the first repeated item (repeats sit next to each other in
/// sorted rows), so that clean input is never compacted.
fn first_duplicate(row_ptr: &[u32], indices: &[u32]) -> Option<(usize, usize)> {
    (0..row_ptr.len() - 1).find_map(|u| {
        let (a, b) = row_span(row_ptr, u);
        indices[a..b]
            .windows(2)
            .position(|w| w[0] == w[1])
            .map(|k| (u, a + k))
    })
}

/// Merges each run of a repeated item into one entry by `merge` (given the run in input
/// order), compacting the CSR in place from row `u0`, the first with a repeat.
fn merge_duplicates<T: Copy>(
    u0: usize,
    row_ptr: &mut [u32],
    indices: &mut Vec<u32>,
    data: &mut Vec<T>,
    merge: impl Fn(&[T]) -> T,
) {
    let n = row_ptr.len() - 1;
    let mut w = row_ptr[u0] as usize;
    for u in u0..n {
        let (a, b) = row_span(row_ptr, u);
        row_ptr[u] = w as u32;
        let mut k = a;
        while k < b {
            let item = indices[k];
            let mut end = k + 1;
            while end < b && indices[end] == item {
                end += 1;
            }
            let value = if end - k == 1 {
                data[k]
            } else {
                merge(&data[k..end])
            };
            indices[w] = item;
            data[w] = value;
            w += 1;
            k = end;
        }
    }
    row_ptr[n] = w as u32;
    indices.truncate(w);
    data.truncate(w);
}

/// Adds `id` to a shared map, copying the map first if it is shared.
fn intern(map: &mut Arc<IdMap>, id: &str) -> u32 {
    if let Some(i) = map.index(id) {
        return i;
    }
    Arc::make_mut(map).intern(id)
}

/// Cuts of `0..len` (`ptr` the `len + 1` offsets of a compressed matrix's rows or columns)
/// into at most `parts` ranges of about equal numbers of entries: ascending indices from 0 to
/// `len` (a range may be empty), one range per worker of a parallel pass.
pub(crate) fn equal_cuts(ptr: &[u32], parts: usize) -> Vec<usize> {
    let len = ptr.len() - 1;
    let total = u64::from(ptr[len]);
    let parts = parts.clamp(1, len.max(1));
    let mut cuts = vec![0usize];
    for t in 1..parts {
        let target = (total * t as u64 / parts as u64) as u32;
        let j = ptr[..len].partition_point(|&c| c < target);
        cuts.push(j.max(cuts[t - 1]));
    }
    cuts.push(len);
    cuts
}

/// [`bucket_starts`] of a CSR's column indices over `m` columns, counted on all threads (one
/// count per chunk of the indices, then summed) when there are many.
fn column_starts(indices: &[u32], m: usize) -> Vec<u32> {
    const CHUNK: usize = 1 << 22;
    if indices.len() <= CHUNK || rayon::current_num_threads() == 1 {
        return bucket_starts(indices.iter().copied(), m);
    }
    let counts = indices
        .par_chunks(CHUNK)
        .fold(
            || vec![0u32; m + 1],
            |mut c, chunk| {
                for &j in chunk {
                    c[j as usize + 1] += 1;
                }
                c
            },
        )
        .reduce_with(|mut a, b| {
            for (x, y) in a.iter_mut().zip(&b) {
                *x += y;
            }
            a
        });
    let mut starts = counts.unwrap_or_else(|| vec![0u32; m + 1]);
    for b in 0..m {
        starts[b + 1] += starts[b];
    }
    starts
}

/// The CSC of a CSR and the CSR position of each CSC entry (counting sort by column, so each
/// column's users come out ascending).
///
/// Parallel over ranges of columns of about equal size, one per worker: each range owns its
/// contiguous slice of the CSC arrays (a column's entries are contiguous there) and scans the
/// whole CSR for the entries of its columns, so the writes are disjoint without `unsafe`, and
/// the result is the same for any number of threads.
fn csc_of(csr: &CsMatI<f64, u32>) -> (CsMatI<f64, u32>, Vec<u32>) {
    let (n, m) = csr.shape();
    let nnz = csr.nnz();
    let col_ptr = column_starts(csr.indices(), m);
    let mut rows = vec![0u32; nnz];
    let mut values = vec![0f64; nnz];
    let mut pos = vec![0u32; nnz];
    let ip = csr.indptr();
    let ip = ip.raw_storage();
    let (indices, data) = (csr.indices(), csr.data());
    let cuts = equal_cuts(&col_ptr, rayon::current_num_threads());
    let mut slices = Vec::with_capacity(cuts.len());
    let (mut r, mut v, mut q) = (&mut rows[..], &mut values[..], &mut pos[..]);
    for w in cuts.windows(2) {
        let len = (col_ptr[w[1]] - col_ptr[w[0]]) as usize;
        let (r1, r2) = std::mem::take(&mut r).split_at_mut(len);
        let (v1, v2) = std::mem::take(&mut v).split_at_mut(len);
        let (q1, q2) = std::mem::take(&mut q).split_at_mut(len);
        slices.push((w[0], w[1], r1, v1, q1));
        (r, v, q) = (r2, v2, q2);
    }
    slices
        .into_par_iter()
        .for_each(|(j0, j1, rows, values, pos)| {
            if j0 == j1 {
                return;
            }
            let base = col_ptr[j0];
            let mut next: Vec<u32> = col_ptr[j0..j1].iter().map(|&c| c - base).collect();
            for u in 0..n {
                for p in ip[u] as usize..ip[u + 1] as usize {
                    let j = indices[p] as usize;
                    if j < j0 || j >= j1 {
                        continue;
                    }
                    let slot = &mut next[j - j0];
                    let at = *slot as usize;
                    rows[at] = u as u32;
                    values[at] = data[p];
                    pos[at] = p as u32;
                    *slot += 1;
                }
            }
        });
    let csc = CsMatI::new_csc((n, m), col_ptr, rows, values);
    (csc, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_starts_on_all_threads_are_the_serial_counts() {
        // More indices than one chunk, so the counts are split; any number of threads.
        let m = 1000;
        let indices: Vec<u32> = (0..9_000_123u64)
            .map(|k| ((k * 2_654_435_761) % m as u64) as u32)
            .collect();
        let want = bucket_starts(indices.iter().copied(), m);
        for threads in [1, 2, 3, 16] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            assert_eq!(pool.install(|| column_starts(&indices, m)), want);
        }
    }

    fn tiny() -> Ratings {
        Ratings::from_external(
            [
                ("u1", "a", 5.0),
                ("u2", "b", 2.0),
                ("u1", "c", 1.0),
                ("u3", "a", 4.0),
                ("u2", "a", 3.0),
            ],
            RatingScale::MOVIELENS,
        )
        .unwrap()
    }

    #[test]
    fn rows_and_columns_agree() {
        let r = tiny();
        assert_eq!((r.n_users(), r.n_items(), r.nnz()), (3, 3, 5));
        let a = r.items().index("a").unwrap();
        let (users, values) = r.item(a);
        let ext: Vec<&str> = users.iter().map(|&u| r.users().external(u)).collect();
        assert_eq!(ext, ["u1", "u2", "u3"]);
        assert_eq!(values, [5.0, 3.0, 4.0]);
        for (p, &csr_pos) in r.csc_to_csr().iter().enumerate() {
            assert_eq!(r.csc().data()[p], r.csr().data()[csr_pos as usize]);
        }
        let t: Vec<Triple> = r.iter().collect();
        assert_eq!(t.len(), 5);
        for x in t {
            assert_eq!(r.get(x.user, x.item), Some(x.value));
        }
        assert_eq!(r.mean(), 3.0);
    }

    /// The column-parallel CSC is the same for every number of threads (ranges of columns,
    /// some of them empty when there are more threads than columns with entries).
    #[test]
    fn the_csc_is_the_same_for_any_thread_count() {
        let mut t = Vec::new();
        for u in 0..40u32 {
            for i in 0..9u32 {
                if (u * 7 + i * 3) % 5 != 0 && !(i == 4 || (i > 6 && u > 3)) {
                    t.push((format!("u{u}"), format!("i{i}"), f64::from(1 + (u + i) % 5)));
                }
            }
        }
        let t = t.iter().map(|(u, i, v)| (u.as_str(), i.as_str(), *v));
        let r = Ratings::from_external(t, RatingScale::MOVIELENS).unwrap();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let (csc1, pos1) = one.install(|| csc_of(r.csr()));
        // The one-thread result against the definition.
        for (p, &csr_pos) in pos1.iter().enumerate() {
            assert_eq!(csc1.data()[p], r.csr().data()[csr_pos as usize]);
        }
        for threads in [2, 3, 4, 16] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (csc, pos) = pool.install(|| csc_of(r.csr()));
            assert_eq!(csc, csc1, "{threads} threads");
            assert_eq!(pos, pos1, "{threads} threads");
        }
    }

    #[test]
    fn duplicates_follow_the_policy() {
        let data = [("u", "i", 1.0), ("v", "i", 2.0), ("u", "i", 4.0)];
        let err = Ratings::from_external(data, RatingScale::MOVIELENS).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("<memory>:3"), "{msg}");
        assert!(msg.contains("duplicate rating"), "{msg}");
        assert!(msg.contains("first seen on line 1"), "{msg}");

        let build = |policy| {
            let mut b = RatingsBuilder::new(RatingScale::MOVIELENS).duplicates(policy);
            for (line, (u, i, r)) in data.iter().enumerate() {
                b.push(u, i, *r, line + 1).unwrap();
            }
            b.build().unwrap()
        };
        let last = build(DuplicatePolicy::KeepLast);
        assert_eq!(last.nnz(), 2);
        assert_eq!(last.get(0, 0), Some(4.0));
        let mean = build(DuplicatePolicy::Mean);
        assert_eq!(mean.get(0, 0), Some(2.5));
    }

    #[test]
    fn bad_values_and_empty_input_are_errors() {
        let e = Ratings::from_external([("u", "i", 6.0)], RatingScale::MOVIELENS).unwrap_err();
        assert!(e.to_string().contains("outside the rating scale"), "{e}");
        let e = Ratings::from_external([("u", "i", f64::NAN)], RatingScale::MOVIELENS).unwrap_err();
        assert!(e.to_string().contains("not a finite number"), "{e}");
        let e = Ratings::from_external(std::iter::empty(), RatingScale::MOVIELENS).unwrap_err();
        assert!(e.to_string().contains("no ratings found"), "{e}");
    }

    #[test]
    fn from_csr_checks_every_invariant() {
        let maps = || {
            (
                Arc::new(IdMap::sequential(2)),
                Arc::new(IdMap::sequential(3)),
            )
        };
        let build = |indptr: Vec<u32>, indices: Vec<u32>, data: Vec<f64>| {
            let (u, i) = maps();
            Ratings::from_csr(u, i, RatingScale::MOVIELENS, indptr, indices, data)
        };
        let ok = build(vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]).unwrap();
        assert_eq!(ok.get(0, 2), Some(2.0));
        assert_eq!(ok.item(1), (&[1u32][..], &[3.0][..]));
        let cases = [
            (
                vec![0, 2],
                vec![0, 2],
                vec![1.0, 2.0],
                "indptr must have 3 entries",
            ),
            (
                vec![0, 2, 3],
                vec![0, 2],
                vec![1.0, 2.0],
                "indptr ends at 3",
            ),
            (
                vec![0, 2, 1],
                vec![0, 2],
                vec![1.0, 2.0],
                "indptr ends at 1",
            ),
            (
                vec![0, 2, 3],
                vec![2, 0, 1],
                vec![1.0, 2.0, 3.0],
                "not strictly ascending",
            ),
            (
                vec![0, 2, 3],
                vec![0, 0, 1],
                vec![1.0, 2.0, 3.0],
                "not strictly ascending",
            ),
            (
                vec![0, 2, 3],
                vec![0, 3, 1],
                vec![1.0, 2.0, 3.0],
                "outside 0..3",
            ),
            (
                vec![0, 2, 3],
                vec![0, 2, 1],
                vec![1.0, 9.0, 3.0],
                "outside the rating scale",
            ),
        ];
        for (indptr, indices, data, want) in cases {
            let e = build(indptr, indices, data).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        let e = build(vec![0, 3, 2], vec![0, 1], vec![1.0, 2.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("indptr decreases at row 1"), "{e}");
    }

    #[test]
    fn subset_keeps_flagged_positions() {
        let r = tiny();
        let keep: Vec<bool> = (0..r.nnz()).map(|p| p % 2 == 0).collect();
        let s = r.subset(&keep);
        let want: Vec<Triple> = r.iter().step_by(2).collect();
        assert_eq!(s.triples(), want);
        assert_eq!(s.csc().nnz(), want.len());
        assert!(Arc::ptr_eq(s.items_arc(), r.items_arc()));
    }

    #[test]
    fn splits_share_id_maps() {
        let r = tiny();
        let half: Vec<Triple> = r.iter().take(2).collect();
        let s = r.with_triples(&half, DuplicatePolicy::Error).unwrap();
        assert!(Arc::ptr_eq(s.users_arc(), r.users_arc()));
        assert_eq!((s.n_users(), s.n_items(), s.nnz()), (3, 3, 2));
        let bad = [Triple::new(9, 0, 1.0)];
        assert!(r.with_triples(&bad, DuplicatePolicy::Error).is_err());
    }

    #[test]
    fn timestamps_follow_their_ratings_through_sort_merge_and_subset() {
        // Out of CSR order, with a repeat of (u, i): times must move with their ratings.
        let data = [
            ("v", "j", 2.0, 20),
            ("u", "i", 1.0, 10),
            ("u", "a", 4.0, 40),
            ("u", "i", 5.0, 50),
        ];
        let build = |policy| {
            let mut b = RatingsBuilder::new(RatingScale::MOVIELENS).duplicates(policy);
            for (line, (u, i, r, t)) in data.iter().enumerate() {
                b.push_at(u, i, *r, *t, line + 1).unwrap();
            }
            b.build()
        };
        let e = build(DuplicatePolicy::Error).unwrap_err().to_string();
        assert!(e.contains("duplicate rating"), "{e}");
        let last = build(DuplicatePolicy::KeepLast).unwrap();
        let (u, i, j, a) = (
            last.users().index("u").unwrap(),
            last.items().index("i").unwrap(),
            last.items().index("j").unwrap(),
            last.items().index("a").unwrap(),
        );
        let time_of = |r: &Ratings, u: u32, item: u32| {
            let (items, _) = r.user(u);
            let k = items.binary_search(&item).unwrap();
            r.user_times(u).unwrap()[k]
        };
        assert_eq!(last.get(u, i), Some(5.0));
        assert_eq!(time_of(&last, u, i), 50);
        assert_eq!(time_of(&last, u, a), 40);
        let v = last.users().index("v").unwrap();
        assert_eq!(time_of(&last, v, j), 20);
        assert_eq!(last.item_times(i).unwrap(), vec![50]);
        let mean = build(DuplicatePolicy::Mean).unwrap();
        assert_eq!(mean.get(u, i), Some(3.0));
        assert_eq!(time_of(&mean, u, i), 50, "a mean takes the latest time");

        let keep: Vec<bool> = (0..last.nnz()).map(|p| p != 1).collect();
        let s = last.subset(&keep);
        assert_eq!(s.times().unwrap().len(), s.nnz());
        assert_eq!(time_of(&s, v, j), 20);
        assert!(tiny().times().is_none());
        assert!(last.clone().without_times().times().is_none());
        let e = tiny().with_times(vec![1, 2]).unwrap_err().to_string();
        assert!(e.contains("2 timestamps for 5 ratings"), "{e}");
    }

    #[test]
    fn timed_triples_keep_their_times() {
        let r = tiny();
        let mut t = r.triples();
        t.reverse();
        let times: Vec<i64> = (0..t.len() as i64).map(|k| 100 + k).collect();
        let s = r
            .with_timed_triples(&t, &times, DuplicatePolicy::Error)
            .unwrap();
        for (x, &want) in t.iter().zip(&times) {
            let (items, _) = s.user(x.user);
            let k = items.binary_search(&x.item).unwrap();
            assert_eq!(s.user_times(x.user).unwrap()[k], want);
        }
        let col: Vec<i64> = s.item_times(0).unwrap();
        assert_eq!(col.len(), s.item_count(0));
    }
}
