//! Split input: each rank reads its byte range; the shards and rank 0's data set are the
//! whole-file loader's.

use std::path::{Path, PathBuf};

use cnmf_distributed::{load_split, load_split_keeping_times, DistError, Shard, ThreadRanks};
use cnmf_ratings::{LoadOptions, RatingScale, Ratings};

use crate::common::{fixture, write_fixture};

/// The fixture as `ratings.dat` (`::`) lines in a scrambled order (users and items first
/// appear all over the file), with `bad` replacing line `bad.0` when given.
fn write_scrambled(dir: &Path, bad: Option<(usize, &str)>) -> PathBuf {
    let data = fixture();
    let triples = data.triples();
    let n = triples.len();
    let mut lines = Vec::with_capacity(n);
    for j in 0..n {
        let t = triples[(j * 7919) % n];
        let time = 874_965_758 + (j * 104_729) % 1_000_003;
        lines.push(format!(
            "{}::{}::{}::{time}",
            t.user + 1,
            t.item + 1,
            t.value
        ));
    }
    if let Some((line, text)) = bad {
        lines[line - 1] = text.to_string();
    }
    let path = dir.join("ratings.dat");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// Split loading on `ranks` ranks against the whole-file loader and [`Shard::split`].
fn check_split(path: &Path, ranks: usize) {
    let whole = cnmf_ratings::load(path, &LoadOptions::default()).unwrap();
    let expected = Shard::split(&whole, ranks).unwrap();
    let got = ThreadRanks::run(ranks, |c| load_split(path, RatingScale::MOVIELENS, c));
    let mut read = 0;
    for (r, g) in got.into_iter().enumerate() {
        let g = g.unwrap_or_else(|e| panic!("P={ranks} rank {r}: {e}"));
        assert_eq!(g.shard, expected[r], "P={ranks} rank {r}");
        read += g.bytes_read;
        assert_eq!(g.root_data.is_some(), r == 0);
        if let Some(d) = g.root_data {
            same_data(&d, &whole);
            assert_eq!(d.times(), None, "P={ranks}: times dropped");
        }
    }
    assert_eq!(read, std::fs::metadata(path).unwrap().len(), "P={ranks}");
    // Keeping the times: the same shards, and rank 0's data set has the whole file's times.
    let got = ThreadRanks::run(ranks, |c| {
        load_split_keeping_times(path, RatingScale::MOVIELENS, true, c)
    });
    for (r, g) in got.into_iter().enumerate() {
        let g = g.unwrap_or_else(|e| panic!("P={ranks} rank {r}: {e}"));
        assert_eq!(g.shard, expected[r], "P={ranks} rank {r}");
        if let Some(d) = g.root_data {
            same_data(&d, &whole);
            assert!(whole.times().is_some());
            assert_eq!(d.times(), whole.times(), "P={ranks}: times");
        }
    }
}

fn same_data(a: &Ratings, b: &Ratings) {
    assert_eq!(
        a.users().iter().collect::<Vec<_>>(),
        b.users().iter().collect::<Vec<_>>()
    );
    assert_eq!(
        a.items().iter().collect::<Vec<_>>(),
        b.items().iter().collect::<Vec<_>>()
    );
    assert_eq!(a.triples(), b.triples());
    assert_eq!(a.mean().to_bits(), b.mean().to_bits());
}

#[test]
fn split_input_gives_the_whole_file_loaders_shards_on_1_to_5_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scrambled(dir.path(), None);
    for ranks in 1..=5 {
        check_split(&path, ranks);
    }
    // The tab-separated u.data format too.
    let tabs = write_fixture(dir.path());
    check_split(&tabs, 3);
}

#[test]
fn a_bad_line_is_reported_by_the_rank_that_read_it_with_the_files_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scrambled(dir.path(), Some((700, "12::34::five::0")));
    let size = std::fs::metadata(&path).unwrap().len();
    let text = std::fs::read_to_string(&path).unwrap();
    let start: usize = text.lines().take(699).map(|l| l.len() + 1).sum();
    for ranks in [1, 3, 4] {
        // The rank whose range holds the start of line 700.
        let owner = (0..ranks)
            .rev()
            .find(|&r| {
                let cut = (size as u128 * r as u128 / ranks as u128) as usize;
                cut == 0
                    || text.as_bytes()[..start]
                        .iter()
                        .skip(cut - 1)
                        .any(|&b| b == b'\n')
            })
            .unwrap();
        let got = ThreadRanks::run(ranks, |c| load_split(&path, RatingScale::MOVIELENS, c));
        for g in got {
            match g {
                Err(DistError::Ranks(failed)) => {
                    assert_eq!(failed.len(), 1, "P={ranks}: {failed:?}");
                    assert_eq!(failed[0].0, owner, "P={ranks}: {failed:?}");
                    assert!(failed[0].1.contains("ratings.dat:700:"), "{failed:?}");
                }
                other => panic!("P={ranks}: {other:?}"),
            }
        }
    }
}

#[test]
#[ignore = "needs MovieLens 100K: set CNMF_DATA to the folder holding ml-100k/"]
fn split_input_gives_the_whole_file_loaders_shards_on_movielens_100k() {
    let path = cnmf_ratings::discover::require_ml100k();
    for ranks in [1, 2, 3, 4] {
        check_split(&path, ranks);
    }
}
