//! Writing ratings to a file in any format the loaders read, so generated data sets can be
//! saved, shared and loaded back.
//!
//! Timestamps ([`Ratings::times`]) are written when the ratings have them: the MovieLens formats
//! need one on every line and get `0` for ratings without times; CSV gets a `timestamp`
//! column only when there are times. A negative time cannot be written in a MovieLens format
//! (an error suggesting CSV).
//! Files are written atomically: to a temporary file beside the target, then renamed.
//!
//! ```
//! use cnmf_ratings::{load, write, Format, LoadOptions, Ratings, RatingScale};
//! let r = Ratings::from_external([("1", "10", 4.0), ("2", "10", 2.5)], RatingScale::MOVIELENS).unwrap();
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("ratings.dat");
//! write(&r, &path, Format::Auto).unwrap();
//! assert_eq!(std::fs::read_to_string(&path).unwrap(), "1::10::4::0\n2::10::2.5::0\n");
//! assert_eq!(load(&path, &LoadOptions::default()).unwrap().triples(), r.triples());
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{Format, Ratings, RatingsError};

/// Writes `ratings` to `path` in `format` ([`Format::Auto`]: from the file name). Ratings are
/// written in CSR order (by user, then item index).
///
/// Errors: a format that cannot be told from the name, an id that the format cannot hold
/// (a separator or line break inside it), or an I/O failure (naming the path).
pub fn write(
    ratings: &Ratings,
    path: impl AsRef<Path>,
    format: Format,
) -> Result<(), RatingsError> {
    let path = path.as_ref();
    let format = match format {
        Format::Auto => Format::from_file_name(path).ok_or_else(|| RatingsError::InvalidParameter {
            name: "format",
            reason: format!(
                "cannot tell the format from the name {}; use ratings.dat, u.data, *.csv or *.tsv, or name the format",
                path.display()
            ),
        })?,
        f => f,
    };
    check_ids(ratings, format)?;
    check_times(ratings, format)?;
    let tmp = temp_path(path);
    let io = |e| RatingsError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        write_to(ratings, &mut out, format, is_tsv(path))?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

fn is_tsv(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
}

/// `dir/.name.tmp-PID` beside the target, so the rename stays on one file system.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ratings".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Refuses a negative timestamp in the MovieLens formats, whose timestamps are unsigned.
fn check_times(ratings: &Ratings, format: Format) -> Result<(), RatingsError> {
    let Some(p) = ratings
        .times()
        .filter(|_| format != Format::Csv)
        .and_then(|t| t.iter().position(|&t| t < 0))
    else {
        return Ok(());
    };
    Err(RatingsError::InvalidParameter {
        name: "times",
        reason: format!(
            "rating {} has the negative timestamp {}, which the {format} format cannot hold; use CSV",
            p + 1,
            ratings.times().map_or(0, |t| t[p])
        ),
    })
}

fn check_ids(ratings: &Ratings, format: Format) -> Result<(), RatingsError> {
    let forbidden: &[&str] = match format {
        Format::MovieLens => &["::", "\n", "\r"],
        Format::Ml100k => &["\t", "\n", "\r"],
        _ => &["\n", "\r"],
    };
    for (what, map) in [("user", ratings.users()), ("item", ratings.items())] {
        for id in map.iter() {
            let integer = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
            let bad = id.is_empty()
                || forbidden.iter().any(|f| id.contains(f))
                || (format != Format::Csv && !integer);
            if bad {
                return Err(RatingsError::InvalidParameter {
                    name: "ids",
                    reason: format!(
                        "{what} id {id:?} cannot be written in the {format} format{}",
                        if format == Format::Csv {
                            ""
                        } else {
                            " (it needs unsigned integer ids; use CSV for text ids)"
                        }
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Writes every rating to `out`; `tsv` picks tabs for CSV.
fn write_to(
    ratings: &Ratings,
    out: &mut impl Write,
    format: Format,
    tsv: bool,
) -> std::io::Result<()> {
    let delim = if tsv { "\t" } else { "," };
    let timed = ratings.times().is_some();
    if format == Format::Csv {
        write!(out, "user{delim}item{delim}rating")?;
        if timed {
            write!(out, "{delim}timestamp")?;
        }
        writeln!(out)?;
    }
    for u in 0..ratings.n_users() as u32 {
        let user = ratings.users().external(u);
        let (items, values) = ratings.user(u);
        let times = ratings.user_times(u);
        for (k, (&i, &v)) in items.iter().zip(values).enumerate() {
            let item = ratings.items().external(i);
            let t = times.map_or(0, |t| t[k]);
            match format {
                Format::MovieLens => writeln!(out, "{user}::{item}::{v}::{t}")?,
                Format::Ml100k => writeln!(out, "{user}\t{item}\t{v}\t{t}")?,
                _ => {
                    write!(
                        out,
                        "{}{delim}{}{delim}{v}",
                        quote(user, delim),
                        quote(item, delim)
                    )?;
                    if timed {
                        write!(out, "{delim}{t}")?;
                    }
                    writeln!(out)?;
                }
            }
        }
    }
    Ok(())
}

/// A CSV field, quoted when it holds the delimiter, a quote, or edge spaces the reader trims.
fn quote<'a>(id: &'a str, delim: &str) -> std::borrow::Cow<'a, str> {
    let needs = id.contains(delim)
        || id.contains('"')
        || id.starts_with([' ', '\t'])
        || id.ends_with([' ', '\t']);
    if needs {
        format!("\"{}\"", id.replace('"', "\"\"")).into()
    } else {
        id.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load, LoadOptions, RatingScale};

    #[test]
    fn every_format_round_trips() {
        let r = Ratings::from_external(
            [
                ("1", "10", 4.0),
                ("2", "10", 2.5),
                ("1", "11", 1.0),
                ("30", "12", 5.0),
            ],
            RatingScale::MOVIELENS,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        for name in ["ratings.dat", "u.data", "r.csv", "r.tsv"] {
            let path = dir.path().join(name);
            write(&r, &path, Format::Auto).unwrap();
            let back = load(&path, &LoadOptions::default()).unwrap();
            assert_eq!(back.triples(), r.triples(), "{name}");
            let ids: Vec<&str> = back.users().iter().collect();
            assert_eq!(ids, ["1", "2", "30"], "{name}");
        }
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn timestamps_round_trip_and_negative_ones_need_csv() {
        let r = Ratings::from_external(
            [("1", "10", 4.0), ("2", "10", 2.5), ("1", "11", 1.0)],
            RatingScale::MOVIELENS,
        )
        .unwrap();
        let timed = r.clone().with_times(vec![7, 874_965_758, 3]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for name in ["ratings.dat", "u.data", "r.csv", "r.tsv"] {
            let path = dir.path().join(name);
            write(&timed, &path, Format::Auto).unwrap();
            let back = load(&path, &LoadOptions::default()).unwrap();
            assert_eq!(back.triples(), timed.triples(), "{name}");
            assert_eq!(back.times(), timed.times(), "{name}");
        }
        // Untimed CSV has no timestamp column, so it loads back untimed.
        let path = dir.path().join("plain.csv");
        write(&r, &path, Format::Auto).unwrap();
        assert!(load(&path, &LoadOptions::default())
            .unwrap()
            .times()
            .is_none());
        let negative = r.with_times(vec![1, -5, 2]).unwrap();
        let e = write(&negative, dir.path().join("n.dat"), Format::Auto).unwrap_err();
        assert!(e.to_string().contains("negative timestamp -5"), "{e}");
        write(&negative, dir.path().join("n.csv"), Format::Auto).unwrap();
    }

    #[test]
    fn text_ids_need_csv_and_are_quoted() {
        let r = Ratings::from_external(
            [("ann, jr", "say \"hi\"", 3.0), (" bo", "x", 2.0)],
            RatingScale::MOVIELENS,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = write(&r, dir.path().join("ratings.dat"), Format::Auto)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"ann, jr\" cannot be written in the movielens format"),
            "{e}"
        );
        let path = dir.path().join("r.csv");
        write(&r, &path, Format::Auto).unwrap();
        let back = load(&path, &LoadOptions::default()).unwrap();
        let users: Vec<&str> = back.users().iter().collect();
        assert_eq!(users, ["ann, jr", " bo"]);
        assert_eq!(back.items().external(0), "say \"hi\"");
        let e = write(&r, dir.path().join("r.txt"), Format::Auto)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot tell the format"), "{e}");
        let e = write(&r, dir.path().join("no/such/dir/r.csv"), Format::Auto)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no/such/dir/r.csv"), "{e}");
    }
}
