//! Data discovery and download, against temporary directories and a tiny HTTP server on
//! 127.0.0.1 serving a zip of made-up ratings. No test touches the real network. The download
//! tests need the `download` feature (on in `cargo test --workspace`, through xtask).

use std::path::Path;

use cnmf_ratings::discover::{discover_in, ML_100K, ML_1M};
use cnmf_ratings::{DataSetKind, Format, LoadOptions, RatingsError};
use sha2::{Digest, Sha256};
#[cfg(feature = "download")]
use {
    cnmf_ratings::discover::{download_from, sha256_file, Expected, Progress},
    std::io::{Read, Write},
    std::net::{TcpListener, TcpStream},
    std::path::PathBuf,
    std::thread::JoinHandle,
};

/// Made-up ratings in u.data layout (not MovieLens data).
const UDATA: &str = "1\t10\t4\t100\n1\t11\t2\t101\n2\t10\t5\t102\n3\t12\t3\t103\n";
/// Made-up ratings in ratings.dat layout.
const RATINGS_DAT: &str = "1::10::4::100\n2::10::5::102\n";

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn put(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn explicit_path_wins_then_env_then_default() {
    let root = tempfile::tempdir().unwrap();
    let env_dir = root.path().join("env");
    let default_dir = root.path().join("default");
    put(&env_dir.join("ml-100k/u.data"), UDATA);
    put(&env_dir.join("ml-1m/ratings.dat"), RATINGS_DAT);
    put(&default_dir.join("ml-100k/u.data"), UDATA);
    let own = root.path().join("mine.csv");
    put(&own, "user,item,rating\na,b,3\n");

    // Explicit file: kind from its place, format detected, digest of its bytes.
    let s = discover_in(Some(&own), Some(&env_dir), &default_dir).unwrap();
    assert_eq!((s.kind, s.format), (DataSetKind::Other, Format::Csv));
    assert_eq!(s.sha256, sha_hex(b"user,item,rating\na,b,3\n"));
    assert_eq!(s.load(&LoadOptions::default()).unwrap().nnz(), 1);

    // Explicit directories: a data directory, or an ml-100k directory itself.
    let s = discover_in(Some(&env_dir), None, &default_dir).unwrap();
    assert_eq!(s.kind, DataSetKind::MovieLens1M);
    let s = discover_in(Some(&default_dir.join("ml-100k")), None, &default_dir).unwrap();
    assert_eq!(
        (s.kind, s.format),
        (DataSetKind::MovieLens100K, Format::Ml100k)
    );
    let s = discover_in(
        Some(&default_dir.join("ml-100k/u.data")),
        None,
        &default_dir,
    )
    .unwrap();
    assert_eq!(s.kind, DataSetKind::MovieLens100K);

    // The environment directory: ML-1M preferred over 100K.
    let s = discover_in(None, Some(&env_dir), &default_dir).unwrap();
    assert_eq!(s.kind, DataSetKind::MovieLens1M);
    assert_eq!(s.path, env_dir.join("ml-1m/ratings.dat"));
    assert_eq!(s.format, Format::MovieLens);
    assert_eq!(s.sha256, sha_hex(RATINGS_DAT.as_bytes()));
    assert_eq!(s.load(&LoadOptions::default()).unwrap().nnz(), 2);

    // Nothing explicit, no environment: the default directory.
    let s = discover_in(None, None, &default_dir).unwrap();
    assert_eq!(s.kind, DataSetKind::MovieLens100K);
    assert_eq!(s.sha256, sha_hex(UDATA.as_bytes()));
}

#[test]
fn missing_data_says_where_to_put_it() {
    let root = tempfile::tempdir().unwrap();
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for (explicit, env) in [
        (None, Some(empty.as_path())),
        (None, None),
        (Some(empty.as_path()), None),
    ] {
        let e = discover_in(explicit, env, &empty).unwrap_err();
        assert!(matches!(e, RatingsError::DataNotFound(_)), "{e:?}");
        let e = e.to_string();
        for needle in [
            empty.join("ml-1m/ratings.dat").display().to_string(),
            empty.join("ml-100k/u.data").display().to_string(),
            ML_1M.url.to_string(),
            ML_100K.url.to_string(),
            "CNMF_DATA".to_string(),
        ] {
            assert!(e.contains(&needle), "{needle:?} missing from {e}");
        }
    }
    // The environment directory is not silently replaced by the default one.
    let full = root.path().join("full");
    put(&full.join("ml-100k/u.data"), UDATA);
    assert!(discover_in(None, Some(&empty), &full).is_err());
    let e = discover_in(Some(&root.path().join("nope")), None, &full)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope does not exist"), "{e}");
}

/// A zip holding `entries` (name, content), built with the zip crate.
#[cfg(feature = "download")]
fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(content.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Serves `body` at `/data.zip` (404 elsewhere) for exactly `requests` connections, then stops.
#[cfg(feature = "download")]
fn serve(body: Vec<u8>, requests: usize) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            answer(stream.unwrap(), &body);
        }
    });
    (base, handle)
}

#[cfg(feature = "download")]
fn answer(mut stream: TcpStream, body: &[u8]) {
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") && request.len() < 8192 {
        if stream.read(&mut byte).unwrap() == 0 {
            break;
        }
        request.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&request);
    let ok = line.starts_with("GET /data.zip ");
    let (status, payload): (&str, &[u8]) = if ok {
        ("200 OK", body)
    } else {
        ("404 Not Found", b"not here")
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/zip\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(payload).unwrap();
}

#[cfg(feature = "download")]
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(feature = "download")]
#[test]
fn download_verifies_unpacks_and_reports_progress() {
    let zip = zip_of(&[
        ("ml-100k/u.data", UDATA),
        ("ml-100k/README", "made-up test data\n"),
    ]);
    let expected = Expected {
        size: Some(zip.len() as u64),
        sha256: Some(sha_hex(&zip)),
    };
    let (base, server) = serve(zip.clone(), 1);
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");
    let mut seen: Vec<Progress> = Vec::new();
    let s = download_from(
        &ML_100K,
        &format!("{base}/data.zip"),
        &expected,
        &data_dir,
        &mut |p| seen.push(p),
    )
    .unwrap();
    server.join().unwrap();

    assert_eq!(s.kind, DataSetKind::MovieLens100K);
    assert_eq!(s.path, data_dir.join("ml-100k/u.data"));
    assert_eq!(s.sha256, sha_hex(UDATA.as_bytes()));
    assert_eq!(sha256_file(&s.path).unwrap(), s.sha256);
    assert_eq!(
        std::fs::read_to_string(data_dir.join("ml-100k/README")).unwrap(),
        "made-up test data\n"
    );
    assert_eq!(s.load(&LoadOptions::default()).unwrap().nnz(), 4);
    let last = seen.last().unwrap();
    assert_eq!(last.downloaded, zip.len() as u64);
    assert_eq!(last.total, Some(zip.len() as u64));
    assert!(seen.windows(2).all(|w| w[0].downloaded <= w[1].downloaded));
    assert!(
        leftovers(&data_dir).is_empty(),
        "{:?}",
        leftovers(&data_dir)
    );

    // The data set is now found where discovery looks.
    let found = discover_in(None, None, &data_dir).unwrap();
    assert_eq!(found, s);
    // A second download refuses to overwrite it.
    let e = download_from(
        &ML_100K,
        &format!("{base}/data.zip"),
        &expected,
        &data_dir,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("already exists"), "{e}");
}

#[cfg(feature = "download")]
#[test]
fn a_digest_or_size_mismatch_unpacks_nothing() {
    let zip = zip_of(&[("ml-100k/u.data", UDATA)]);
    let (base, server) = serve(zip.clone(), 2);
    let data = tempfile::tempdir().unwrap();
    let url = format!("{base}/data.zip");
    let wrong_digest = Expected {
        size: None,
        sha256: Some("00".repeat(32)),
    };
    let e = download_from(&ML_100K, &url, &wrong_digest, data.path(), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("SHA-256 mismatch"), "{e}");
    assert!(e.contains(&sha_hex(&zip)), "{e}");
    let wrong_size = Expected {
        size: Some(ML_100K.zip_size),
        sha256: None,
    };
    let e = download_from(&ML_100K, &url, &wrong_size, data.path(), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("received {} bytes, expected 4924029", zip.len())),
        "{e}"
    );
    server.join().unwrap();
    assert!(!data.path().join("ml-100k").exists());
    assert!(
        leftovers(data.path()).is_empty(),
        "{:?}",
        leftovers(data.path())
    );
}

#[cfg(feature = "download")]
#[test]
fn an_archive_without_the_ratings_file_is_rejected() {
    let zip = zip_of(&[("ml-100k/u.item", "1|made up|\n")]);
    let (base, server) = serve(zip.clone(), 1);
    let data = tempfile::tempdir().unwrap();
    let e = download_from(
        &ML_100K,
        &format!("{base}/data.zip"),
        &Expected::default(),
        data.path(),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    server.join().unwrap();
    assert!(e.contains("does not contain ml-100k/u.data"), "{e}");
    assert!(!data.path().join("ml-100k").exists());
    assert!(leftovers(data.path()).is_empty());
}

#[cfg(feature = "download")]
#[test]
fn http_errors_and_no_network_say_where_to_put_the_files() {
    let (base, server) = serve(Vec::new(), 1);
    let data = tempfile::tempdir().unwrap();
    let e = download_from(
        &ML_1M,
        &format!("{base}/missing.zip"),
        &Expected::default(),
        data.path(),
        &mut |_| {},
    )
    .unwrap_err();
    server.join().unwrap();
    assert!(matches!(e, RatingsError::Download { .. }), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("HTTP 404"), "{e}");
    assert!(e.contains(ML_1M.url), "{e}");
    assert!(
        e.contains(&data.path().join("ml-1m/ratings.dat").display().to_string()),
        "{e}"
    );

    // A port nobody listens on: bind, note the port, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = download_from(
        &ML_1M,
        &format!("http://127.0.0.1:{port}/ml-1m.zip"),
        &Expected::default(),
        data.path(),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no connection"), "{e}");
    assert!(e.contains("unzip it into"), "{e}");
    assert!(leftovers(data.path()).is_empty());
}
