//! Who sends to whom: each topology as, for every node, the peers it sends
//! its replication stream to and whether it forwards changes it received.
//! Links exist for every directed pair; a node is only given the peers it
//! sends to. Loops are prevented by the node-id path every change carries.

use crate::domain::Topology;

/// One node's part in the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Indexes of the nodes this node sends to.
    pub peers: Vec<usize>,
    /// Whether it forwards changes received from others (relays).
    pub forward_remote: bool,
}

/// The role of each of `n` nodes. `root` is the star's root index,
/// `fanout` the tree's children per node (rooted at index 0).
pub fn roles(topology: Topology, n: usize, root: usize, fanout: usize) -> Vec<Role> {
    let everyone_but = |i: usize| (0..n).filter(|&j| j != i).collect::<Vec<_>>();
    (0..n)
        .map(|i| match topology {
            Topology::AllToAll => Role {
                peers: everyone_but(i),
                forward_remote: false,
            },
            Topology::Ring => Role {
                peers: if n > 1 { vec![(i + 1) % n] } else { vec![] },
                forward_remote: true,
            },
            Topology::Star if i == root => Role {
                peers: everyone_but(i),
                forward_remote: true,
            },
            Topology::Star => Role {
                peers: vec![root],
                forward_remote: false,
            },
            Topology::Tree => {
                let fanout = fanout.max(1);
                let mut peers = Vec::new();
                if i > 0 {
                    peers.push((i - 1) / fanout);
                }
                peers.extend((fanout * i + 1..=fanout * i + fanout).filter(|&c| c < n));
                Role {
                    peers,
                    forward_remote: true,
                }
            }
            Topology::SingleLeader if i == 0 => Role {
                peers: everyone_but(i),
                forward_remote: false,
            },
            Topology::SingleLeader => Role {
                peers: vec![],
                forward_remote: false,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(t: Topology, n: usize, root: usize, fanout: usize) -> Vec<Vec<usize>> {
        roles(t, n, root, fanout)
            .into_iter()
            .map(|r| r.peers)
            .collect()
    }

    #[test]
    fn each_topology_wires_as_documented() {
        assert_eq!(
            peers(Topology::AllToAll, 3, 0, 2),
            vec![vec![1, 2], vec![0, 2], vec![0, 1]]
        );
        assert_eq!(
            peers(Topology::Ring, 3, 0, 2),
            vec![vec![1], vec![2], vec![0]]
        );
        assert_eq!(
            peers(Topology::Star, 3, 1, 2),
            vec![vec![1], vec![0, 2], vec![1]]
        );
        assert_eq!(
            peers(Topology::Tree, 6, 0, 2),
            vec![
                vec![1, 2],
                vec![0, 3, 4],
                vec![0, 5],
                vec![1],
                vec![1],
                vec![2]
            ]
        );
        assert_eq!(
            peers(Topology::SingleLeader, 3, 0, 2),
            vec![vec![1, 2], vec![], vec![]]
        );
        assert!(
            roles(Topology::Ring, 3, 0, 2)
                .iter()
                .all(|r| r.forward_remote)
        );
    }
}
