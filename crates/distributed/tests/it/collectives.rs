//! The communicators' collectives.

use cnmf_distributed::{Communicator, SingleRank, ThreadRanks};

/// `sum_all` sums in rank order: with values whose sum depends on the order, every rank gets
/// exactly `((x0 + x1) + x2) + x3`, and the result is the same on every rank.
#[test]
fn sum_all_adds_in_rank_order_on_every_rank() {
    let parts = [1e16, 1.0, -1e16, 1.0];
    for ranks in 1..=4 {
        let out = ThreadRanks::run(ranks, |c| {
            // 7 values: blocks of unequal fill for 2, 3 and 4 ranks.
            let mut buf: Vec<f64> = (0..7).map(|j| parts[c.rank()] * (j + 1) as f64).collect();
            c.sum_all(&mut buf);
            buf
        });
        let expect: Vec<f64> = (0..7)
            .map(|j| {
                let mut s = parts[0] * (j + 1) as f64;
                for p in &parts[1..ranks] {
                    s += p * (j + 1) as f64;
                }
                s
            })
            .collect();
        for (r, got) in out.iter().enumerate() {
            assert_eq!(got, &expect, "P={ranks} rank {r}");
        }
    }
}

#[test]
fn sum_small_gather_broadcast_and_agree() {
    let out = ThreadRanks::run(3, |c| {
        let mut s = [c.rank() as f64, 1.0];
        c.sum_small(&mut s);
        let mut b = [c.rank() as f64 + 10.0];
        c.broadcast_f64(&mut b, 2);
        let g = c.gather_bytes(&vec![c.rank() as u8; c.rank()], 1);
        let failed = c.agree((c.rank() == 1).then_some("bad line 3 of x.dat"));
        (s, b, g, failed)
    });
    for (r, (s, b, g, failed)) in out.into_iter().enumerate() {
        assert_eq!(s, [3.0, 3.0]);
        assert_eq!(b, [12.0]);
        assert_eq!(g.is_some(), r == 1);
        if let Some(g) = g {
            assert_eq!(g, vec![vec![], vec![1], vec![2, 2]]);
        }
        assert_eq!(failed, vec![(1, "bad line 3 of x.dat".to_string())]);
    }
    let one = SingleRank;
    let mut s = [2.5];
    one.sum_all(&mut s);
    assert_eq!((s, one.agree(None), one.bytes_sent()), ([2.5], vec![], 0));
}

/// Traffic of `sum_all`: `2 (P - 1)` blocks of `ceil(len / P)` values per rank.
#[test]
fn sum_all_sends_two_blocks_per_other_rank() {
    let sent = ThreadRanks::run(4, |c| {
        let mut buf = vec![1.0; 1000];
        c.sum_all(&mut buf);
        c.bytes_sent()
    });
    assert_eq!(sent, vec![2 * 3 * 250 * 8; 4]);
}
