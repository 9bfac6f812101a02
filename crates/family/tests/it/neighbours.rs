//! Item neighbours on hand-made factor matrices.

// Index loops mirror the formulas being checked.
#![allow(clippy::needless_range_loop)]

use cnmf_family::DMatrix;
use cnmf_family::{FamilyError, ItemNeighbours, MissingRating, NeighbourParams};

/// Items in the plane at known angles (degrees) and lengths; the cosine between two items is
/// the cosine of the angle between them, whatever the lengths.
fn fan() -> (ItemNeighbours, Vec<f64>) {
    // item:      0    1     2    3    4     5 (duplicate of 1, longer)  6 (zero vector)
    let angles = [0.0, 10.0, 45.0, 80.0, 30.0, 10.0, 0.0];
    let lengths = [1.0, 2.0, 0.5, 3.0, 1.0, 7.0, 0.0];
    let mut f = Vec::new();
    for (a, l) in angles.iter().zip(lengths) {
        let r = f64::to_radians(*a);
        f.push(l * r.cos());
        f.push(l * r.sin());
    }
    (
        ItemNeighbours::from_item_major(&f, 2).unwrap(),
        angles.to_vec(),
    )
}

#[test]
fn similar_items_are_ranked_by_angle_with_ties_by_index() {
    let (nb, angles) = fan();
    assert_eq!(nb.n_items(), 7);
    // From item 0 (0 deg): 1 and 5 (10 deg, tie -> lower index first), 4 (30), 2 (45), 3 (80),
    // and the zero vector last with similarity 0.
    let top = nb.similar_items(0, 10).unwrap();
    let order: Vec<u32> = top.iter().map(|t| t.0).collect();
    assert_eq!(order, [1, 5, 4, 2, 3, 6]);
    for &(j, s) in &top {
        let expected = if j == 6 {
            0.0
        } else {
            f64::to_radians(angles[j as usize]).cos()
        };
        assert!((s - expected).abs() < 1e-12, "item {j}: {s} vs {expected}");
    }
    assert_eq!(top[0].1, top[1].1, "items 1 and 5 point the same way");
    // Top-n is a prefix of the full ranking.
    assert_eq!(nb.similar_items(0, 3).unwrap(), top[..3].to_vec());
    // From item 3 (80 deg): 2 (35), 4 (50), then 1 and 5 (70), then 0 (80).
    let order: Vec<u32> = nb
        .similar_items(3, 5)
        .unwrap()
        .iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(order, [2, 4, 1, 5, 0]);
    // Never the item itself, even when a duplicate exists.
    assert!(nb.similar_items(1, 6).unwrap().iter().all(|t| t.0 != 1));
    // The zero vector is similar to nothing.
    assert!(nb.similar_items(6, 6).unwrap().iter().all(|t| t.1 == 0.0));
    assert_eq!(nb.cosine(2, 4).unwrap(), nb.cosine(4, 2).unwrap());
}

#[test]
fn the_three_constructors_agree() {
    // 4 items x 3 factors.
    let rows = DMatrix::from_row_slice(
        4,
        3,
        &[1.0, 0.0, 2.0, 0.5, 0.5, 0.5, 0.0, 3.0, 1.0, 2.0, 2.0, 0.0],
    );
    let a = ItemNeighbours::from_rows(&rows).unwrap();
    let b = ItemNeighbours::from_columns(&rows.transpose()).unwrap();
    let mut item_major = Vec::new();
    for r in rows.row_iter() {
        item_major.extend(r.iter());
    }
    let c = ItemNeighbours::from_item_major(&item_major, 3).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.rank(), 3);
}

#[test]
fn bad_queries_are_errors() {
    let (nb, _) = fan();
    assert!(matches!(
        nb.similar_items(7, 2),
        Err(FamilyError::UnknownItem {
            item: 7,
            n_items: 7
        })
    ));
    assert!(matches!(
        nb.similar_items(0, 0),
        Err(FamilyError::InvalidParameter { name: "n", .. })
    ));
    assert!(nb.cosine(0, 9).is_err());
    assert!(ItemNeighbours::from_item_major(&[1.0, 2.0, 3.0], 2).is_err());
    assert!(ItemNeighbours::from_item_major(&[1.0, f64::NAN], 2).is_err());
    assert!(ItemNeighbours::from_item_major(&[1.0], 0).is_err());
}

#[test]
fn rank_weights_are_the_slides_and_the_estimate_their_average() {
    let (nb, _) = fan();
    // Target item 0; its neighbours: 1, 5, 4, 2, 3, 6. The user rated 1 (4.0), 4 (2.0), 3 (5.0).
    let (rated, ratings) = ([1u32, 3, 4], [4.0, 5.0, 2.0]);
    // Slides' rule, 3 neighbours: 1 (rated 4), 5 (unrated: 0), 4 (rated 2); weights 5/12,
    // 4/12, 3/12 summing to 1.
    let p = NeighbourParams::new(3).check().unwrap();
    let e = nb.estimate(&p, 0, &rated, &ratings).unwrap();
    let w: Vec<f64> = e.neighbours.iter().map(|n| n.weight).collect();
    for (a, b) in w.iter().zip([5.0 / 12.0, 4.0 / 12.0, 3.0 / 12.0]) {
        assert!((a - b).abs() < 1e-15);
    }
    assert_eq!(e.neighbours[1].rating, None);
    assert!((e.value - (5.0 * 4.0 + 4.0 * 0.0 + 3.0 * 2.0) / 12.0).abs() < 1e-12);
    // Two neighbours: weights 0.5 (1 - 1/3) = 1/3 and 0.5 (1 - 2/3) = 1/6, which sum to 1/2,
    // so the estimate is divided by 1/2.
    let p2 = NeighbourParams::new(2).check().unwrap();
    let e2 = nb.estimate(&p2, 0, &rated, &ratings).unwrap();
    assert!((e2.neighbours[0].weight - 1.0 / 3.0).abs() < 1e-15);
    assert!((e2.neighbours[1].weight - 1.0 / 6.0).abs() < 1e-15);
    assert!((e2.value - (4.0 / 3.0) / 0.5).abs() < 1e-12);
    // Rated-only: the nearest rated items are 1 (10 deg), 4 (30), 3 (80).
    let pr = NeighbourParams::new(3)
        .missing(MissingRating::RatedOnly)
        .check()
        .unwrap();
    let er = nb.estimate(&pr, 0, &rated, &ratings).unwrap();
    let items: Vec<u32> = er.neighbours.iter().map(|n| n.item).collect();
    assert_eq!(items, [1, 4, 3]);
    assert!((er.value - (5.0 * 4.0 + 4.0 * 2.0 + 3.0 * 5.0) / 12.0).abs() < 1e-12);
}

#[test]
fn estimate_rejects_bad_input() {
    let (nb, _) = fan();
    let p = NeighbourParams::new(3).check().unwrap();
    let msg = |rated: &[u32], ratings: &[f64]| {
        nb.estimate(&p, 0, rated, ratings).unwrap_err().to_string()
    };
    assert!(msg(&[3, 1], &[1.0, 2.0]).contains("strictly ascending"));
    assert!(msg(&[1, 1], &[1.0, 2.0]).contains("strictly ascending"));
    assert!(msg(&[1], &[1.0, 2.0]).contains("1 rated items but 2 ratings"));
    assert!(msg(&[1, 9], &[1.0, 2.0]).contains("unknown item 9"));
    assert!(msg(&[1], &[f64::INFINITY]).contains("not finite"));
    // Rated-only with a single other rated item: not enough neighbours.
    let pr = NeighbourParams::new(3)
        .missing(MissingRating::RatedOnly)
        .check()
        .unwrap();
    let e = nb
        .estimate(&pr, 0, &[0, 2], &[5.0, 3.0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("only 1 neighbour"), "{e}");
    let e = NeighbourParams::new(1).check().unwrap_err();
    assert!(matches!(
        e,
        FamilyError::InvalidParameter {
            name: "neighbours",
            ..
        }
    ));
}
