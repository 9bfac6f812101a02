//! A bounded load test of `cnmf serve`: N concurrent clients, each on one keep-alive HTTP/1.1
//! connection, send GET requests for T seconds; prints throughput and latency percentiles.
//!
//! ```text
//! # an ML-1M-shaped data set (6040 users, 3706 items, 1,000,209 ratings; ids 0..n-1)
//! cargo run --release -p cnmf-cli --example serve_load -- generate ml1m-synth.dat
//! cnmf fit --data ml1m-synth.dat --k 20 --iters 50 -o ml1m.cnmf
//! cnmf serve --model ml1m.cnmf --addr 127.0.0.1:8080 &
//! cargo run --release -p cnmf-cli --example serve_load -- run --addr 127.0.0.1:8080 \
//!     --clients 64 --seconds 10 --users 6040 --path '/recommend?user={user}&n=10'
//! ```
//!
//! `{user}` in the path is replaced, per request, by a user id drawn uniformly from
//! `0..users` (the generated data's ids). Latency is measured from writing the request to
//! reading the whole answer; any answer but 200 counts as an error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("generate") if args.len() == 2 => generate(&args[1]),
        Some("run") => run(&args[1..]),
        _ => {
            eprintln!(
                "usage: serve_load generate FILE\n       serve_load run [--addr HOST:PORT] \
                 [--clients N] [--seconds T] [--users N] [--path PATH]"
            );
            std::process::exit(2);
        }
    }
}

/// Writes an ML-1M-shaped synthetic data set in MovieLens `::` format.
fn generate(path: &str) {
    let data = cnmf_ratings::SyntheticParams::ml1m()
        .seed(1)
        .check()
        .expect("valid parameters")
        .generate();
    cnmf_ratings::write(&data, path, cnmf_ratings::Format::MovieLens).expect("written");
    println!(
        "wrote {path}: {} users, {} items, {} ratings",
        data.n_users(),
        data.n_items(),
        data.nnz()
    );
}

struct Options {
    addr: String,
    clients: usize,
    seconds: f64,
    users: u64,
    path: String,
}

fn options(args: &[String]) -> Options {
    let mut o = Options {
        addr: "127.0.0.1:8080".into(),
        clients: 64,
        seconds: 10.0,
        users: 6040,
        path: "/recommend?user={user}&n=10".into(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let bad = |e: &dyn std::fmt::Display| -> ! { panic!("{flag} {value}: {e}") };
        match flag.as_str() {
            "--addr" => o.addr = value.clone(),
            "--clients" => o.clients = value.parse().unwrap_or_else(|e| bad(&e)),
            "--seconds" => o.seconds = value.parse().unwrap_or_else(|e| bad(&e)),
            "--users" => o.users = value.parse().unwrap_or_else(|e| bad(&e)),
            "--path" => o.path = value.clone(),
            _ => bad(&"unknown option"),
        }
    }
    assert!(o.clients >= 1 && o.users >= 1 && o.seconds > 0.0);
    o
}

/// What one client measured.
#[derive(Default)]
struct ClientStats {
    latencies_us: Vec<u32>,
    errors: usize,
}

fn run(args: &[String]) {
    let o = options(args);
    let duration = Duration::from_secs_f64(o.seconds);
    let start = Instant::now();
    let stats: Vec<ClientStats> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..o.clients)
            .map(|c| {
                let o = &o;
                s.spawn(move || client(o, c as u64, start + duration))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut lat: Vec<u32> = stats
        .iter()
        .flat_map(|s| s.latencies_us.iter().copied())
        .collect();
    let errors: usize = stats.iter().map(|s| s.errors).sum();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let k = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[k] as f64 / 1000.0
    };
    let mean = lat.iter().map(|&x| x as f64).sum::<f64>() / lat.len().max(1) as f64 / 1000.0;
    println!(
        "{} clients, {:.1} s, GET {}: {} requests ({} errors), {:.0} requests/s; latency ms: \
         mean {:.2}, p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2}",
        o.clients,
        elapsed,
        o.path,
        lat.len(),
        errors,
        lat.len() as f64 / elapsed,
        mean,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
}

/// One client: a keep-alive connection, requests until `until`.
fn client(o: &Options, seed: u64, until: Instant) -> ClientStats {
    let mut stats = ClientStats::default();
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut conn = connect(&o.addr);
    let mut buf = Vec::new();
    while Instant::now() < until {
        // xorshift64*
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        let user = rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % o.users;
        let path = o.path.replace("{user}", &user.to_string());
        let t = Instant::now();
        match request(&mut conn, &o.addr, &path, &mut buf) {
            Ok(200) => stats
                .latencies_us
                .push(t.elapsed().as_micros().min(u32::MAX as u128) as u32),
            Ok(_) => stats.errors += 1,
            Err(_) => {
                stats.errors += 1;
                conn = connect(&o.addr);
            }
        }
    }
    stats
}

fn connect(addr: &str) -> BufReader<TcpStream> {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_nodelay(true).unwrap();
    BufReader::new(s)
}

/// One GET on the connection; returns the status after reading the whole body
/// (`Content-Length` framing, which the server uses for its JSON answers).
fn request(
    conn: &mut BufReader<TcpStream>,
    addr: &str,
    path: &str,
    buf: &mut Vec<u8>,
) -> std::io::Result<u16> {
    write!(
        conn.get_mut(),
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n"
    )?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| std::io::Error::other("bad Content-Length"))?;
            }
        }
    }
    buf.resize(length, 0);
    conn.read_exact(buf)?;
    Ok(status)
}
