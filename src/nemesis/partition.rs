//! Partition shapes: which directed links a partition cuts.
//!
//! A shape is turned into a *grudge*: the set of `(from, to)` links that drop
//! everything. Shapes are drawn over node indices with the nemesis's RNG.

use std::collections::BTreeSet;

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// The named partition shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// One node cut off from all others, both ways.
    IsolateOne,
    /// The nodes split into two random halves.
    RandomHalves,
    /// A majority and a minority that cannot talk.
    MajorityMinority,
    /// Every node sees a majority, no two nodes the same one (nodes on a ring
    /// see their nearest neighbours only).
    MajoritiesRing,
    /// Two halves joined by one bridge node that sees both.
    Bridge,
    /// One node's outgoing links cut; it still receives.
    OneWay,
}

impl Shape {
    pub const ALL: [Shape; 6] = [
        Shape::IsolateOne,
        Shape::RandomHalves,
        Shape::MajorityMinority,
        Shape::MajoritiesRing,
        Shape::Bridge,
        Shape::OneWay,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shape::IsolateOne => "isolate-one",
            Shape::RandomHalves => "random-halves",
            Shape::MajorityMinority => "majority-minority",
            Shape::MajoritiesRing => "majorities-ring",
            Shape::Bridge => "bridge",
            Shape::OneWay => "one-way",
        }
    }
}

/// Directed links `(from, to)` (node indices) that the shape cuts.
pub type Grudge = BTreeSet<(usize, usize)>;

/// Draw the grudge of `shape` over `n` nodes.
pub fn grudge(shape: Shape, n: usize, rng: &mut impl Rng) -> Grudge {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    match shape {
        Shape::IsolateOne => split(&order[..1], &order[1..]),
        Shape::RandomHalves => {
            let cut = n / 2;
            split(&order[..cut], &order[cut..])
        }
        Shape::MajorityMinority => {
            let minority = (n - 1) / 2;
            split(
                &order[..minority.max(1).min(n)],
                &order[minority.max(1).min(n)..],
            )
        }
        Shape::MajoritiesRing => majorities_ring(&order),
        Shape::Bridge => {
            if n < 3 {
                return split(&order[..1], &order[1..]);
            }
            let bridge = order[0];
            let rest = &order[1..];
            let half = rest.len() / 2;
            let mut g = split(&rest[..half], &rest[half..]);
            g.retain(|(a, b)| *a != bridge && *b != bridge);
            g
        }
        Shape::OneWay => (0..n)
            .filter(|&to| to != order[0])
            .map(|to| (order[0], to))
            .collect(),
    }
}

/// Cut every link between `a` and `b`, both ways.
fn split(a: &[usize], b: &[usize]) -> Grudge {
    let mut g = Grudge::new();
    for &x in a {
        for &y in b {
            g.insert((x, y));
            g.insert((y, x));
        }
    }
    g
}

/// On a ring (in `order`), node `i` hears only the majority that starts at
/// itself: `i, i+1, ..., i+m-1`. Every node hears a majority and no two hear
/// the same one; the cut links are therefore one-way (with three nodes no
/// symmetric arrangement has that property).
fn majorities_ring(order: &[usize]) -> Grudge {
    let n = order.len();
    let majority = n / 2 + 1;
    let mut g = Grudge::new();
    for i in 0..n {
        for offset in majority..n {
            // order[(i + offset) % n] is outside i's window: i does not hear it.
            g.insert((order[(i + offset) % n], order[i]));
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn reachable(g: &Grudge, n: usize, from: usize) -> usize {
        (0..n)
            .filter(|&to| to == from || !g.contains(&(from, to)))
            .count()
    }

    #[test]
    fn isolate_one_cuts_one_node_both_ways() {
        let g = grudge(Shape::IsolateOne, 5, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(g.len(), 8);
        let isolated: Vec<usize> = (0..5).filter(|&i| reachable(&g, 5, i) == 1).collect();
        assert_eq!(isolated.len(), 1);
    }

    #[test]
    fn majority_minority_leaves_a_majority_connected() {
        let g = grudge(
            Shape::MajorityMinority,
            5,
            &mut ChaCha8Rng::seed_from_u64(2),
        );
        let sizes: Vec<usize> = (0..5).map(|i| reachable(&g, 5, i)).collect();
        assert_eq!(sizes.iter().filter(|&&s| s == 3).count(), 3, "{sizes:?}");
        assert_eq!(sizes.iter().filter(|&&s| s == 2).count(), 2, "{sizes:?}");
    }

    #[test]
    fn majorities_ring_gives_every_node_a_different_majority() {
        for n in [3, 4, 5, 7] {
            let g = grudge(Shape::MajoritiesRing, n, &mut ChaCha8Rng::seed_from_u64(3));
            let heard: BTreeSet<Vec<usize>> = (0..n)
                .map(|to| {
                    (0..n)
                        .filter(|&from| from == to || !g.contains(&(from, to)))
                        .collect()
                })
                .collect();
            assert_eq!(
                heard.len(),
                n,
                "{n} nodes: every node hears a different set: {heard:?}"
            );
            for set in &heard {
                assert_eq!(
                    set.len(),
                    n / 2 + 1,
                    "{n} nodes: each hears exactly a majority: {heard:?}"
                );
            }
        }
    }

    #[test]
    fn bridge_node_sees_everyone() {
        let g = grudge(Shape::Bridge, 5, &mut ChaCha8Rng::seed_from_u64(4));
        let full: Vec<usize> = (0..5).filter(|&i| reachable(&g, 5, i) == 5).collect();
        assert_eq!(full.len(), 1, "{g:?}");
    }

    #[test]
    fn one_way_cuts_only_outgoing_links() {
        let g = grudge(Shape::OneWay, 4, &mut ChaCha8Rng::seed_from_u64(5));
        assert_eq!(g.len(), 3);
        let from: BTreeSet<usize> = g.iter().map(|(a, _)| *a).collect();
        assert_eq!(from.len(), 1);
    }
}
