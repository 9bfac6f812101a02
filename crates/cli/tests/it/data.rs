//! `cnmf data fetch` against a local server: a download that fails the pinned size check
//! unpacks nothing, an existing release is not overwritten, an unknown release is a usage
//! error. (The real GroupLens download is not run in the tests: no network.)

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::common::cnmf;

/// Serves `body` once, to one GET, on a free loopback port; returns the URL.
fn serve_once(body: &'static [u8]) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ml-100k.zip", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).unwrap();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/zip\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
    });
    (url, server)
}

#[test]
fn a_download_that_fails_its_check_unpacks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (url, server) = serve_once(b"not the MovieLens zip");
    let target = dir.path().join("data");
    let run = cnmf(&[
        "data",
        "fetch",
        "ml-100k",
        "--dir",
        target.to_str().unwrap(),
        "--mirror",
        &url,
    ]);
    server.join().unwrap();
    run.expect(3)
        .stderr_has(&["received 21 bytes, expected 4924029", "discarded", &url]);
    // Nothing left behind: no release directory, no partial file.
    let left: Vec<_> = std::fs::read_dir(&target)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_existing_release_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ml-1m")).unwrap();
    // The check comes before any connection: the mirror's port is closed.
    cnmf(&[
        "data",
        "fetch",
        "ml-1m",
        "--dir",
        dir.path().to_str().unwrap(),
        "--mirror",
        "http://127.0.0.1:9/ml-1m.zip",
    ])
    .expect(3)
    .stderr_has(&["already exists; remove it to download again"]);
    cnmf(&["data", "fetch", "ml-20m"])
        .expect(2)
        .stderr_has(&["ml-20m"]);
}
