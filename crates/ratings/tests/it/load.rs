//! Loader tests over the made-up fixtures in `tests/fixtures/` (no MovieLens data).

use std::path::{Path, PathBuf};

use cnmf_ratings::{
    load, DuplicatePolicy, Format, LoadOptions, RatingScale, Ratings, RatingsError,
};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn load_default(rel: &str) -> Result<Ratings, RatingsError> {
    load(fixture(rel), &LoadOptions::default())
}

/// The five ratings every "good" integer-id fixture holds: (user, item, rating).
const FIVE: [(&str, &str, f64); 5] = [
    ("10", "200", 4.0),
    ("10", "201", 5.0),
    ("11", "200", 1.0),
    ("12", "202", 3.0),
    ("12", "200", 2.0),
];

fn assert_five(r: &Ratings, what: &str) {
    assert_eq!((r.n_users(), r.n_items(), r.nnz()), (3, 3, 5), "{what}");
    for (u, i, v) in FIVE {
        let u = r
            .users()
            .index(u)
            .unwrap_or_else(|| panic!("{what}: user {u}"));
        let i = r
            .items()
            .index(i)
            .unwrap_or_else(|| panic!("{what}: item {i}"));
        assert_eq!(r.get(u, i), Some(v), "{what}");
    }
}

#[test]
fn every_good_format_loads_the_same_ratings() {
    for rel in [
        "good/ratings.dat",
        "good/u.data",
        "good/reordered.tsv",
        "good/sniff_movielens",
        "good/sniff_ml100k",
        "good/sniff_csv",
        "good/trailing_blank.dat",
        "good/crlf.dat",
        "good/bom.csv",
    ] {
        let r = load_default(rel).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_five(&r, rel);
    }
}

#[test]
fn formats_are_detected_from_names_then_first_lines() {
    let cases = [
        ("good/ratings.dat", Format::MovieLens),
        ("good/u.data", Format::Ml100k),
        ("good/ratings.csv", Format::Csv),
        ("good/reordered.tsv", Format::Csv),
        ("good/sniff_movielens", Format::MovieLens),
        ("good/sniff_ml100k", Format::Ml100k),
        ("good/sniff_csv", Format::Csv),
        ("bad/zero_rating.data", Format::Ml100k),
    ];
    for (rel, want) in cases {
        assert_eq!(Format::Auto.detect(&fixture(rel)).unwrap(), want, "{rel}");
    }
    // An explicit format is kept without looking at the file.
    assert_eq!(
        Format::Csv.detect(Path::new("/no/such/file")).unwrap(),
        Format::Csv
    );
    assert_eq!("ml100k".parse::<Format>().unwrap(), Format::Ml100k);
    assert!("xml".parse::<Format>().is_err());
}

#[test]
fn an_explicit_format_overrides_the_file_name() {
    // u.data content read as MovieLens has no `::`, so every line has one field.
    let opts = LoadOptions::default().format(Format::MovieLens);
    let e = load(fixture("good/u.data"), &opts).unwrap_err().to_string();
    assert!(e.contains("u.data:1") && e.contains("found 1"), "{e}");
}

#[test]
fn csv_string_ids_quotes_and_spaces() {
    let r = load_default("good/ratings.csv").unwrap();
    assert_eq!((r.n_users(), r.n_items(), r.nnz()), (3, 3, 4));
    let id = |u: &str, i: &str| (r.users().index(u).unwrap(), r.items().index(i).unwrap());
    let (u, i) = id("ann", "Up, the movie");
    assert_eq!(r.get(u, i), Some(4.5));
    let (u, i) = id("bob", "heat");
    assert_eq!(r.get(u, i), Some(3.0));
    let (u, i) = id("cy \"the\" critic", "Up");
    assert_eq!(r.get(u, i), Some(1.0));
    let (u, i) = id("ann", "heat");
    assert_eq!(r.get(u, i), Some(2.0));
    // Each rating keeps its own timestamp, whatever its form in the file.
    let time = |u: &str, i: &str| {
        let (u, i) = id(u, i);
        let (items, _) = r.user(u);
        r.user_times(u).unwrap()[items.binary_search(&i).unwrap()]
    };
    assert_eq!(time("ann", "Up, the movie"), 1_704_067_200);
    assert_eq!(time("bob", "heat"), 1_700_000_000);
    assert_eq!(time("cy \"the\" critic", "Up"), 0);
    assert_eq!(time("ann", "heat"), 1_704_189_600);
}

#[test]
fn timestamps_are_kept_from_movielens_files_or_dropped_on_request() {
    let r = load_default("good/u.data").unwrap();
    let times = r.times().expect("u.data has timestamps");
    assert_eq!(times.len(), r.nnz());
    // Every line's time, read back through the CSR order.
    let text = std::fs::read_to_string(fixture("good/u.data")).unwrap();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let (u, i) = (
            r.users().index(f[0]).unwrap(),
            r.items().index(f[1]).unwrap(),
        );
        let (items, _) = r.user(u);
        let k = items.binary_search(&i).unwrap();
        assert_eq!(
            r.user_times(u).unwrap()[k],
            f[3].parse::<i64>().unwrap(),
            "{line}"
        );
    }
    let opts = LoadOptions::default().timestamps(false);
    assert!(load(fixture("good/u.data"), &opts)
        .unwrap()
        .times()
        .is_none());
    // Dropping timestamps also accepts any text in a CSV timestamp column.
    let r = load(fixture("bad/bad_timestamp.csv"), &opts).unwrap();
    assert_eq!(r.nnz(), 2);
    assert!(r.times().is_none());
}

#[test]
fn duplicates_are_an_error_by_default_and_follow_the_policy() {
    let e = load_default("good/duplicates.dat").unwrap_err().to_string();
    assert!(e.contains("duplicates.dat:3"), "{e}");
    assert!(e.contains("first seen on line 1"), "{e}");

    let last = load(
        fixture("good/duplicates.dat"),
        &LoadOptions::default().duplicates(DuplicatePolicy::KeepLast),
    )
    .unwrap();
    let mean = load(
        fixture("good/duplicates.dat"),
        &LoadOptions::default().duplicates(DuplicatePolicy::Mean),
    )
    .unwrap();
    for (r, want) in [(&last, 4.0), (&mean, 3.0)] {
        assert_eq!(r.nnz(), 3);
        let u = r.users().index("1").unwrap();
        let i = r.items().index("7").unwrap();
        assert_eq!(r.get(u, i), Some(want));
    }
}

#[test]
fn a_wider_scale_accepts_what_the_default_rejects() {
    let opts = LoadOptions::default().scale(RatingScale::new(0.0, 10.0).unwrap());
    let r = load(fixture("bad/out_of_scale.dat"), &opts).unwrap();
    assert_eq!(r.nnz(), 4);
}

/// Every bad fixture: the error names the file and line, and says what is wrong.
#[test]
fn bad_inputs_name_file_line_and_problem() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "bad/missing_field.dat",
            "missing_field.dat:3",
            "missing field: expected 4 fields",
        ),
        (
            "bad/extra_field.dat",
            "extra_field.dat:2",
            "extra field: expected 4 fields",
        ),
        (
            "bad/extra_field_tab.data",
            "extra_field_tab.data:3",
            "extra field",
        ),
        (
            "bad/bad_rating.dat",
            "bad_rating.dat:2",
            "rating \"five\" is not a number",
        ),
        (
            "bad/nan_rating.csv",
            "nan_rating.csv:3",
            "rating \"NaN\" is not a finite number",
        ),
        (
            "bad/inf_rating.dat",
            "inf_rating.dat:1",
            "rating \"inf\" is not a finite number",
        ),
        (
            "bad/out_of_scale.dat",
            "out_of_scale.dat:4",
            "rating 6 is outside the rating scale [1, 5]",
        ),
        (
            "bad/zero_rating.data",
            "zero_rating.data:2",
            "rating 0 is outside the rating scale",
        ),
        ("bad/empty.dat", "empty.dat", "no ratings found"),
        ("bad/header_only.csv", "header_only.csv", "no ratings found"),
        ("bad/blank_only.dat", "blank_only.dat", "no ratings found"),
        (
            "bad/blank_middle.dat",
            "blank_middle.dat:2",
            "blank line inside the data (line 3 follows it)",
        ),
        (
            "bad/not_utf8.csv",
            "not_utf8.csv:3",
            "not valid UTF-8 (byte 0xFF at column 2)",
        ),
        (
            "bad/bad_user_id.dat",
            "bad_user_id.dat:2",
            "user id \"u2\" is not an unsigned integer",
        ),
        (
            "bad/bad_timestamp.data",
            "bad_timestamp.data:2",
            "timestamp \"yesterday\" is not an unsigned integer",
        ),
        (
            "bad/bad_timestamp.csv",
            "bad_timestamp.csv:3",
            "timestamp \"last tuesday\" is neither whole seconds",
        ),
        (
            "bad/huge_timestamp.data",
            "huge_timestamp.data:2",
            "is too large (at most 18 digits)",
        ),
        (
            "bad/unknown_column.csv",
            "unknown_column.csv:1",
            "header column \"stars\" is not one of",
        ),
        (
            "bad/missing_column.csv",
            "missing_column.csv:1",
            "header lacks column(s) item",
        ),
        (
            "bad/unterminated_quote.csv",
            "unterminated_quote.csv:3",
            "unterminated quoted field",
        ),
        ("bad/stray_quote.csv", "stray_quote.csv:3", "stray quote"),
        ("bad/empty_user.csv", "empty_user.csv:3", "empty user id"),
        (
            "bad/missing_field.csv",
            "missing_field.csv:3",
            "missing field: expected 4 fields (user,item,rating,timestamp), found 3",
        ),
        (
            "bad/duplicate.dat",
            "duplicate.dat:3",
            "duplicate rating of item \"7\" by user \"1\" (first seen on line 1)",
        ),
        (
            "bad/unknown_format",
            "unknown_format:1",
            "cannot tell the file format",
        ),
    ];
    for (rel, at, problem) in cases {
        let e = load_default(rel).expect_err(rel).to_string();
        assert!(
            e.contains(&format!("fixtures/{}", &rel[..rel.rfind('/').unwrap()])),
            "{rel}: the message names the full path: {e}"
        );
        let at_end = e.find(at).map(|p| p + at.len());
        assert!(at_end.is_some(), "{rel}: expected location {at:?} in {e:?}");
        // `file:3` must not be a prefix of `file:30`.
        let next = e[at_end.unwrap()..].chars().next();
        assert!(!next.is_some_and(|c| c.is_ascii_digit()), "{rel}: {e}");
        assert!(e.contains(problem), "{rel}: expected {problem:?} in {e:?}");
    }
}

#[test]
fn a_missing_file_is_an_io_error_with_the_path() {
    let e = load_default("bad/no_such_file.dat").unwrap_err();
    assert!(matches!(e, RatingsError::Io { .. }), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("no_such_file.dat"), "{e}");
}

#[test]
fn in_memory_input_sniffs_its_format() {
    let text = "1::2::3::4\n2::2::5::4\n";
    let r = cnmf_ratings::load_reader(text.as_bytes(), "<stdin>", &LoadOptions::default()).unwrap();
    assert_eq!(r.nnz(), 2);
    let e = cnmf_ratings::load_reader("1::2::3\n".as_bytes(), "<stdin>", &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("<stdin>:1: missing field"), "{e}");
}

/// Lines the fast path declines (leading zeros, very large ids, fractional ratings) are still
/// read exactly by the checked path, and ids keep the text they were written with.
#[test]
fn unusual_but_valid_movielens_lines() {
    let text =
        "7::1::4::100\n007::1::3::100\n98765432109::1::2.5::100\n7::2::4.25::100\n7::3::3.0::100\n";
    let opts = LoadOptions::default().scale(RatingScale::new(0.5, 5.0).unwrap());
    let r = cnmf_ratings::load_reader(text.as_bytes(), "<mem>", &opts).unwrap();
    let ids: Vec<&str> = r.users().iter().collect();
    assert_eq!(ids, ["7", "007", "98765432109"]);
    let get = |u: &str, i: &str| r.get(r.users().index(u).unwrap(), r.items().index(i).unwrap());
    assert_eq!(get("7", "1"), Some(4.0));
    assert_eq!(get("007", "1"), Some(3.0));
    assert_eq!(get("98765432109", "1"), Some(2.5));
    assert_eq!(get("7", "2"), Some(4.25));
    assert_eq!(get("7", "3"), Some(3.0));
    // The same data as u.data.
    let tabbed = text.replace("::", "\t");
    let t = cnmf_ratings::load_reader(tabbed.as_bytes(), "<mem>", &opts).unwrap();
    assert_eq!(t.triples(), r.triples());
}

/// A reader that yields `byte` forever: an input without any line break.
struct Endless(u8);

impl std::io::Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        buf.fill(self.0);
        Ok(buf.len())
    }
}

#[test]
fn an_endless_line_is_an_error_not_an_exhausted_memory() {
    for limit in [100, 70_000, cnmf_ratings::DEFAULT_MAX_LINE_BYTES] {
        let opts = LoadOptions::default().max_line_bytes(limit);
        let e = cnmf_ratings::load_reader(Endless(b'7'), "<endless>", &opts)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("<endless>:1") && e.contains(&format!("longer than {limit} bytes")),
            "{e}"
        );
    }
    // The limit counts per line: short lines after a long one are not affected, and a line
    // just over it fails with its own number.
    let text = format!("user,item,rating\na,x,{}\n", "1".repeat(40));
    let opts = LoadOptions::default().max_line_bytes(30);
    let e = cnmf_ratings::load_reader(text.as_bytes(), "<mem>", &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("<mem>:2") && e.contains("longer than 30 bytes"),
        "{e}"
    );
    let ok = "user,item,rating\na,x,1\n";
    assert!(cnmf_ratings::load_reader(ok.as_bytes(), "<mem>", &opts).is_ok());
}

#[test]
fn a_huge_bad_field_is_not_echoed_whole() {
    let header = format!("user,item,rating,{}\n", "z".repeat(500_000));
    let e = cnmf_ratings::load_reader(header.as_bytes(), "<mem>", &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("<mem>:1") && e.contains("more bytes)"),
        "{e:.200}"
    );
    assert!(e.len() < 1_000, "{} bytes of message", e.len());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_input_is_recognised_by_its_magic_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(fixture("good/ratings.dat")).unwrap();
    // The name says `.dat` under `.gz`; a second copy has a name that says nothing.
    for name in ["ratings.dat.gz", "ratings.data"] {
        let path = dir.path().join(name);
        std::fs::write(&path, gzip(&text)).unwrap();
        let got = load(&path, &LoadOptions::default());
        #[cfg(feature = "gzip")]
        assert_five(&got.unwrap(), name);
        #[cfg(not(feature = "gzip"))]
        {
            let e = got.unwrap_err().to_string();
            assert!(e.contains(name) && e.contains("gzip-compressed"), "{e}");
        }
    }
    // A truncated stream is an error naming the file, never a silently short data set.
    #[cfg(feature = "gzip")]
    {
        let gz = gzip(&text);
        let path = dir.path().join("cut.dat.gz");
        std::fs::write(&path, &gz[..gz.len() - 12]).unwrap();
        let e = load(&path, &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("cut.dat.gz"), "{e}");
    }
}

#[cfg(unix)]
#[test]
fn a_named_pipe_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ratings.fifo");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    let text = std::fs::read(fixture("good/ratings.dat")).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
    };
    // No file name to go by: the format comes from the first line, read in the same pass.
    let r = load(&fifo, &LoadOptions::default()).unwrap();
    writer.join().unwrap();
    assert_five(&r, "fifo");
}

/// Standard input and `<(cat file)` are readers without a file: gzip is recognised there too,
/// and the format the input was read as comes back with the ratings.
#[cfg(feature = "gzip")]
#[test]
fn a_compressed_reader_is_decompressed_and_its_format_reported() {
    let text = std::fs::read(fixture("good/ratings.dat")).unwrap();
    let gz = gzip(&text);
    let (r, format) =
        cnmf_ratings::load_reader_with_format(gz.as_slice(), "<stdin>", &LoadOptions::default())
            .unwrap();
    assert_five(&r, "gzip reader");
    assert_eq!(format, Format::MovieLens);
    let (_, format) =
        cnmf_ratings::load_with_format(fixture("good/u.data"), &LoadOptions::default()).unwrap();
    assert_eq!(format, Format::Ml100k);
}

#[test]
fn other_compressed_files_get_a_hint() {
    for (magic, kind) in [
        (&b"PK\x03\x04rest"[..], "zip"),
        (b"\xFD7zXZ\x00rest", "xz"),
        (b"BZh91AY", "bzip2"),
        (b"\x28\xB5\x2F\xFDrest", "zstd"),
    ] {
        let e = cnmf_ratings::load_reader(magic, "<in>", &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("<in>:1") && e.contains(&format!("looks {kind}-compressed")),
            "{e}"
        );
    }
}

/// `LoadOptions::columns` reads files without a header: the first line is a rating, the
/// separator comes from it, and the names follow the file's order.
#[test]
fn headerless_files_are_read_with_given_columns() {
    use cnmf_ratings::load::Columns;
    let read = |text: &str, cols: &str, name: &str| {
        let cols: Columns = cols.parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        cnmf_ratings::load_with_format(&path, &LoadOptions::default().columns(cols))
    };
    // MovieLens u1.test layout (tab-separated, timestamps kept), whatever the file name says.
    let (r, format) = read(
        "10\t200\t4\t881250949\n10\t201\t5\t881250950\n11\t200\t1\t881250951\n12\t202\t3\t1\n12\t200\t2\t2\n",
        "user,item,rating,timestamp",
        "u1.test",
    )
    .unwrap();
    assert_eq!(format, Format::Csv);
    assert_five(&r, "tsv");
    assert!(r.times().is_some());
    // Comma-separated, another column order, quoted ids.
    let (r, _) = read(
        "200,10,4\n201,10,5\n200,11,1\n202,12,3\n\"200\",12,2\n",
        "item, userId ,rating",
        "ratings.dat",
    )
    .unwrap();
    assert_five(&r, "csv");
    // Errors: a line with a missing field names the line and the given columns.
    let e = read("1,2,3\n1,3\n", "user,item,rating", "x.csv")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("x.csv:2: missing field: expected 3 fields (user,item,rating)"),
        "{e}"
    );
    // Bad column lists are invalid parameters, before any reading.
    for (cols, want) in [
        ("user,item", "no rating column"),
        ("user,item,rating,user", "\"user\" is named twice"),
        (
            "user,item,stars",
            "\"stars\" is not one of user, item, rating, timestamp",
        ),
    ] {
        let e = cols.parse::<Columns>().unwrap_err();
        assert!(matches!(
            e,
            RatingsError::InvalidParameter {
                name: "columns",
                ..
            }
        ));
        assert!(e.to_string().contains(want), "{e}");
    }
    let cols: Columns = "user,item,rating".parse().unwrap();
    let e = load(
        fixture("nope.data"),
        &LoadOptions::default().columns(cols).format(Format::Ml100k),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not the ml100k format"), "{e}");
}
