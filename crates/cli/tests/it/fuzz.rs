//! The fuzz targets of `fuzz/` (cargo-fuzz, nightly) run on stable as property tests: each
//! target's body (`cnmf_cli::fuzzing`) gets every committed seed of `fuzz/seeds/<target>/`,
//! then seeds mutated by proptest (bytes flipped, inserted, deleted, the input cut) and
//! random bytes. A body panics when an invariant breaks, so a passing run means no crash.

use std::path::Path;

use cnmf_cli::fuzzing;
use cnmf_ratings::Format;
use proptest::prelude::*;

/// The committed seeds of one target.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// One edit of a seed: (position, kind, byte).
type Edit = (usize, u8, u8);

fn mutate(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for &(pos, kind, byte) in edits {
        let at = if b.is_empty() { 0 } else { pos % b.len() };
        match kind {
            0 if !b.is_empty() => b[at] ^= byte.max(1),
            1 => b.insert(at, byte),
            2 if !b.is_empty() => {
                b.remove(at);
            }
            3 => b.truncate(at),
            _ => b.push(byte),
        }
    }
    b
}

/// Inputs for `target`: a mutated seed or random bytes.
fn inputs(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let s = seeds(target);
    let n = s.len();
    prop_oneof![
        4 => (0..n, proptest::collection::vec((any::<usize>(), 0u8..5, any::<u8>()), 0..12))
            .prop_map(move |(i, edits)| mutate(&s[i], &edits)),
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 160,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A target's body.
type Body = Box<dyn Fn(&[u8])>;

#[test]
fn every_seed_passes_its_target() {
    let load = |f: Format| move |d: &[u8]| fuzzing::load(f, d);
    let targets: [(&str, Body); 9] = [
        ("load_movielens", Box::new(load(Format::MovieLens))),
        ("load_ml100k", Box::new(load(Format::Ml100k))),
        ("load_csv", Box::new(load(Format::Csv))),
        ("load_auto", Box::new(load(Format::Auto))),
        ("csv_split", Box::new(fuzzing::csv_split)),
        ("pairs", Box::new(fuzzing::pairs)),
        ("fold_in", Box::new(fuzzing::fold_in)),
        ("model_file", Box::new(fuzzing::model_file)),
        ("model_file_v2", Box::new(fuzzing::model_file_v2)),
    ];
    for (name, body) in &targets {
        for s in seeds(name) {
            body(&s);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn load_movielens(data in inputs("load_movielens")) {
        fuzzing::load(Format::MovieLens, &data);
    }

    #[test]
    fn load_ml100k(data in inputs("load_ml100k")) {
        fuzzing::load(Format::Ml100k, &data);
    }

    #[test]
    fn load_csv(data in inputs("load_csv")) {
        fuzzing::load(Format::Csv, &data);
    }

    #[test]
    fn load_auto(data in inputs("load_auto")) {
        fuzzing::load(Format::Auto, &data);
    }

    #[test]
    fn csv_split(data in inputs("csv_split")) {
        fuzzing::csv_split(&data);
    }

    #[test]
    fn pairs(data in inputs("pairs")) {
        fuzzing::pairs(&data);
    }

    #[test]
    fn fold_in(data in inputs("fold_in")) {
        fuzzing::fold_in(&data);
    }

    #[test]
    fn model_file(data in inputs("model_file")) {
        fuzzing::model_file(&data);
    }

    #[test]
    fn model_file_v2(data in inputs("model_file_v2")) {
        fuzzing::model_file_v2(&data);
    }
}

/// The crashes the fuzzers found, kept as regressions (see docs/FUZZING.md).
#[test]
fn model_file_with_offsets_past_the_stored_items_is_refused() {
    // `rated.indptr` [0, 1000, 6] with 6 stored items: the reader sliced gaps[0..1000].
    let seed = &seeds("model_file")[0];
    let text = String::from_utf8(seed.clone()).unwrap();
    let crafted = text.replacen("\"indptr\":[0,2,4,6]", "\"indptr\":[0,1000,4,6]", 1);
    assert_ne!(crafted, text, "the seed's pattern changed");
    fuzzing::model_file(crafted.as_bytes());
    let file = fuzzing::seal(crafted.as_bytes());
    assert!(std::str::from_utf8(&file)
        .unwrap()
        .starts_with("CNMF-MODEL 1 "));
}

/// The committed version 2 seeds load, and re-sealing one that was not changed gives a file
/// that answers like it (so the target's re-sealed inputs are real model files): the same
/// tensors, and the same `flagged` report.
#[test]
fn model_file_v2_seeds_load_and_reseal_to_equivalent_files() {
    let dir = tempfile::tempdir().unwrap();
    for (n, seed) in seeds("model_file_v2").iter().enumerate() {
        let sealed = fuzzing::reseal_v2(seed).expect("a seed re-seals");
        let (a, b) = (
            fuzzing::v2_parts(seed).unwrap(),
            fuzzing::v2_parts(&sealed).unwrap(),
        );
        // By name: empty tensors share an offset, and their order among themselves is not
        // kept by the header parser.
        let tensors = |p: &fuzzing::V2Parts| {
            let mut t: Vec<_> = p
                .tensors
                .iter()
                .map(|t| (t.name.clone(), t.dtype, t.shape.clone(), t.data.clone()))
                .collect();
            t.sort_by(|a, b| a.0.cmp(&b.0));
            t
        };
        assert!(tensors(&a) == tensors(&b), "seed {n}: tensors changed");
        assert!(
            fuzzing::reseal_v2(&sealed).as_deref() == Some(&sealed[..]),
            "seed {n}: re-sealing is not idempotent"
        );
        let report = |bytes: &[u8], name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let path = path.to_string_lossy().into_owned();
            crate::common::cnmf(&["flagged", "--model", &path, "--json"])
                .expect(0)
                .stdout
        };
        assert_eq!(report(seed, "seed.cnmf"), report(&sealed, "sealed.cnmf"));
    }
}
