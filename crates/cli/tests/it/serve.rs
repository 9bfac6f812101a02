//! `cnmf serve`: the HTTP API on loopback (port 0), driven by a real HTTP client (ureq), its
//! answers checked against the commands' `--json` output, its errors, body limit, concurrent
//! requests and shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{cnmf, fit_fixture, fixture};

/// A running `cnmf serve`, killed when dropped (unless it was shut down).
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(model: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cnmf"))
            .args([
                "serve",
                "--model",
                model,
                "--addr",
                "127.0.0.1:0",
                "--threads",
                "2",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cnmf serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM.
    fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
    }

    /// Waits (at most 20 s) for the exit status and stderr.
    fn wait_exit(mut self) -> (std::process::ExitStatus, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status, err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// GET: (status, JSON body).
fn get(url: &str) -> (u16, Value) {
    let mut r = agent().get(url).call().expect("GET answered");
    let status = r.status().as_u16();
    (status, json_body(&mut r))
}

/// POST of raw bytes: (status, JSON body).
fn post(url: &str, body: &[u8]) -> (u16, Value) {
    let mut r = agent().post(url).send(body).expect("POST answered");
    let status = r.status().as_u16();
    (status, json_body(&mut r))
}

fn json_body(r: &mut ureq::http::Response<ureq::Body>) -> Value {
    let text = r.body_mut().read_to_string().expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn post_json(url: &str, body: Value) -> (u16, Value) {
    post(url, body.to_string().as_bytes())
}

fn model(dir: &std::path::Path) -> String {
    fit_fixture(dir, "m.cnmf", &[])
}

#[test]
fn endpoints_answer_what_the_commands_print() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let s = Server::start(&m, &[]);

    let (st, h) = get(&s.url("/health"));
    assert_eq!(st, 200);
    assert_eq!(h["status"], "ok");
    assert_eq!(h["users"], 27);
    assert_eq!(h["items"], 16);
    assert_eq!(h["rank"], 2);

    // predict: the CLI's value, by string or numeric ids.
    let cli = cnmf(&[
        "predict", "--model", &m, "--user", "u01", "--item", "a03", "--json",
    ])
    .expect(0)
    .json();
    let (st, p) = post_json(&s.url("/predict"), json!({"pairs": [["u01", "a03"]]}));
    assert_eq!(st, 200, "{p}");
    assert_eq!(
        p["predictions"][0]["prediction"],
        cli["predictions"][0]["prediction"]
    );
    assert_eq!(p["fallbacks"], 0);
    let (st, p) = post_json(
        &s.url("/predict"),
        json!({"pairs": [["u01", "a03"], ["new", "a03"], [7, "none"]], "unknown": "mean"}),
    );
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["fallbacks"], 2);
    assert_eq!(p["predictions"][1]["fallback"], "item-mean");
    assert_eq!(p["predictions"][2]["user"], "7");
    assert_eq!(p["predictions"][2]["fallback"], "global-mean");
    let scale_ok = |v: &Value| (1.0..=5.0).contains(&v.as_f64().unwrap());
    assert!(p["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| scale_ok(&x["prediction"])));

    // recommend, GET and POST: the CLI's list.
    let cli = cnmf(&[
        "recommend",
        "--model",
        &m,
        "--user",
        "u01",
        "-n",
        "3",
        "--json",
    ])
    .expect(0)
    .json();
    let (st, r) = get(&s.url("/recommend?user=u01&n=3"));
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["items"], cli["items"]);
    assert_eq!(r["rated"], cli["rated"]);
    let (st, r2) = post_json(&s.url("/recommend"), json!({"user": "u01", "n": 3}));
    assert_eq!(st, 200);
    assert_eq!(r2["items"], cli["items"]);
    // exclude_seen=false may list rated items; with it, none of u01's 12 ratings.
    let (st, all) = get(&s.url("/recommend?user=u01&n=16&exclude_seen=false"));
    assert_eq!(st, 200);
    assert_eq!(all["items"].as_array().unwrap().len(), 16);
    let (_, unseen) = get(&s.url("/recommend?user=u01&n=16"));
    assert_eq!(unseen["items"].as_array().unwrap().len(), 16 - 12);
    let (st, mean) = get(&s.url("/recommend?user=stranger&unknown=mean&n=2"));
    assert_eq!(st, 200);
    assert_eq!(mean["fallback"], "item-mean");

    // similar.
    let cli = cnmf(&[
        "similar", "--model", &m, "--item", "a01", "-n", "4", "--json",
    ])
    .expect(0)
    .json();
    let (st, r) = get(&s.url("/similar?item=a01&n=4"));
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["similar"], cli["similar"]);
    let (_, r) = post_json(&s.url("/similar"), json!({"item": "a01", "n": 4}));
    assert_eq!(r["similar"], cli["similar"]);

    // fold-in: the ratings of new_user.csv, as pairs and as objects.
    let cli = cnmf(&[
        "fold-in",
        "--model",
        &m,
        "--ratings",
        &fixture("new_user.csv"),
        "-n",
        "5",
        "--json",
    ])
    .expect(0)
    .json();
    let body = json!({
        "ratings": [["a01", 5], ["a02", 5], {"item": "a05", "rating": 4}, ["d01", 1], ["d03", 2]],
        "n": 5
    });
    let (st, f) = post_json(&s.url("/fold-in"), body);
    assert_eq!(st, 200, "{f}");
    assert_eq!(f["items"], cli["items"]);
    assert_eq!(f["would_flag"], cli["would_flag"]);
    assert_eq!(f["ratings_used"], 5);
    assert_eq!(f["factors"].as_array().unwrap().len(), 2);

    // flagged: the CLI's report.
    let cli = cnmf(&["flagged", "--model", &m, "--min-share", "0.2", "--json"])
        .expect(0)
        .json();
    let (st, r) = get(&s.url("/flagged?min_share=0.2"));
    assert_eq!(st, 200, "{r}");
    assert_eq!(r, cli);
    let (_, r) = get(&s.url("/flagged?min_share=0.2&top=1"));
    assert!(r["entries"].as_array().unwrap().len() <= 1);
}

#[test]
fn errors_are_json_with_4xx_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let s = Server::start(&m, &["--max-body-bytes", "4096"]);
    let error = |(st, v): (u16, Value), want: u16, has: &str| {
        assert_eq!(st, want, "{v}");
        let msg = v["error"].as_str().expect("an error message");
        assert!(msg.contains(has), "{msg:?} lacks {has:?}");
    };
    error(get(&s.url("/nope")), 404, "no such route");
    error(get(&s.url("/predict")), 405, "method not allowed");
    error(post(&s.url("/predict"), b"{not json"), 400, "bad JSON");
    error(post(&s.url("/predict"), b"{\"pairs\": 3}"), 400, "bad JSON");
    error(
        post(&s.url("/predict"), b"{\"pairs\": [], \"x\": 1}"),
        400,
        "unknown field",
    );
    error(
        post_json(
            &s.url("/predict"),
            json!({"pairs": [["u01", "a01"], ["ghost", "a01"]]}),
        ),
        404,
        "pairs[1]: unknown user \"ghost\"",
    );
    error(get(&s.url("/recommend")), 400, "user");
    error(
        get(&s.url("/recommend?user=u01&n=0")),
        400,
        "n must be at least 1",
    );
    error(get(&s.url("/recommend?user=u01&n=many")), 400, "n");
    error(get(&s.url("/recommend?user=ghost")), 404, "unknown user");
    error(get(&s.url("/similar?item=ghost")), 404, "unknown item");
    error(
        post_json(&s.url("/fold-in"), json!({"ratings": [["a01", 9]]})),
        400,
        "outside the model's rating scale",
    );
    error(
        post_json(
            &s.url("/fold-in"),
            json!({"ratings": [["a01", 5], ["a01", 4]]}),
        ),
        400,
        "rated twice",
    );
    error(
        post_json(&s.url("/fold-in"), json!({"ratings": [["ghost", 5]]})),
        404,
        "\"unknown\": \"skip\"",
    );
    error(
        post_json(
            &s.url("/fold-in"),
            json!({"ratings": [["ghost", 5]], "unknown": "skip"}),
        ),
        400,
        "no rating of a known item",
    );
    error(get(&s.url("/flagged?min_share=2")), 400, "min_share");
    // The body limit: 413 beyond 4096 bytes, and the server still answers afterwards.
    let big = format!("{{\"pairs\": [], \"pad\": \"{}\"}}", "x".repeat(5000));
    error(
        post(&s.url("/predict"), big.as_bytes()),
        413,
        "length limit",
    );
    assert_eq!(get(&s.url("/health")).0, 200);
}

#[test]
fn concurrent_requests_get_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let s = Server::start(&m, &[]);
    let url = s.url("/recommend?user=u05&n=5");
    let (_, want) = get(&url);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let a = agent();
                for _ in 0..25 {
                    let mut r = a.get(&url).call().unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                    let v = json_body(&mut r);
                    assert_eq!(v, want);
                }
            });
        }
    });
}

#[test]
fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let s = Server::start(&m, &[]);
    assert_eq!(get(&s.url("/health")).0, 200);
    // A request whose body is still arriving when SIGTERM comes is answered in full.
    let addr = s.base.strip_prefix("http://").unwrap().to_string();
    let body = br#"{"pairs": [["u01", "a01"]]}"#;
    let mut conn = TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /predict HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    conn.write_all(&body[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    s.sigterm();
    std::thread::sleep(Duration::from_millis(200));
    conn.write_all(&body[5..]).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"prediction\""), "{answer}");
    let (status, err) = s.wait_exit();
    assert!(status.success(), "{status:?}; stderr:\n{err}");
    assert!(err.contains("shut down"), "{err}");
}

#[test]
fn a_bad_model_or_address_fails_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.cnmf");
    let missing = missing.to_string_lossy();
    cnmf(&["serve", "--model", &missing, "--addr", "127.0.0.1:0"]).expect(4);
    let m = model(dir.path());
    cnmf(&["serve", "--model", &m, "--addr", "not-an-address"]).expect(2);
}
