//! Maps between external ids (as they appear in files) and dense indices.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A two-way map between external ids and dense indices `0..len`.
///
/// External ids are kept as the text they had in the input (`"196"`, `"alice"`), so integer
/// and string ids are handled alike and written back exactly as read.
///
/// ```
/// use cnmf_ratings::IdMap;
/// let mut m = IdMap::new();
/// assert_eq!(m.intern("42"), 0);
/// assert_eq!(m.intern("7"), 1);
/// assert_eq!(m.intern("42"), 0);
/// assert_eq!(m.index("7"), Some(1));
/// assert_eq!(m.external(1), "7");
/// assert_eq!(m.index("8"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Box<str>>", into = "Vec<Box<str>>")]
pub struct IdMap {
    external: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl IdMap {
    /// An empty map.
    pub fn new() -> Self {
        IdMap::default()
    }

    /// The map `"0" .. "n-1"`, for generated data whose ids are their indices.
    pub fn sequential(n: usize) -> Self {
        let mut m = IdMap::with_capacity(n);
        for i in 0..n {
            m.intern(&i.to_string());
        }
        m
    }

    /// An empty map with room for `n` ids.
    pub fn with_capacity(n: usize) -> Self {
        IdMap {
            external: Vec::with_capacity(n),
            index: HashMap::with_capacity(n),
        }
    }

    /// The dense index of `id`, adding it at the end when it is new.
    ///
    /// # Panics
    /// When the map would exceed `u32::MAX` ids (a programmer's contract: loaders check sizes).
    pub fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = u32::try_from(self.external.len()).expect("more than u32::MAX ids");
        let boxed: Box<str> = id.into();
        self.external.push(boxed.clone());
        self.index.insert(boxed, i);
        i
    }

    /// The dense index of `id`, if known.
    pub fn index(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The external id of dense index `i`.
    ///
    /// # Panics
    /// When `i >= self.len()`.
    pub fn external(&self, i: u32) -> &str {
        &self.external[i as usize]
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.external.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.external.is_empty()
    }

    /// External ids in index order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.external.iter().map(|s| &**s)
    }
}

impl TryFrom<Vec<Box<str>>> for IdMap {
    type Error = String;

    /// Rebuilds a map from ids in index order; a repeated id is an error (it would make two
    /// indices share one id).
    fn try_from(external: Vec<Box<str>>) -> Result<Self, String> {
        let mut m = IdMap::with_capacity(external.len());
        for (i, id) in external.iter().enumerate() {
            if m.intern(id) as usize != i {
                return Err(format!("id {id:?} appears twice in the id map"));
            }
        }
        Ok(m)
    }
}

impl From<IdMap> for Vec<Box<str>> {
    fn from(m: IdMap) -> Self {
        m.external
    }
}
