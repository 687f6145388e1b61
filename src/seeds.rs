//! Sub-seeds: one master seed decides every random choice of the controller;
//! each subsystem (each client, the nemesis, ...) draws from its own stream
//! derived from it, so adding a draw in one place never shifts another's.

/// A seed for `(subsystem, index)` derived from the master `seed`
/// (SplitMix64 over a hash of the name; stable across versions and platforms).
pub fn sub_seed(seed: u64, subsystem: &str, index: u64) -> u64 {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for byte in subsystem.bytes() {
        h = splitmix(h ^ u64::from(byte));
    }
    splitmix(h ^ index)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_seeds_are_stable_and_distinct() {
        assert_eq!(sub_seed(1, "client", 0), sub_seed(1, "client", 0));
        assert_ne!(sub_seed(1, "client", 0), sub_seed(1, "client", 1));
        assert_ne!(sub_seed(1, "client", 0), sub_seed(2, "client", 0));
        assert_ne!(sub_seed(1, "client", 0), sub_seed(1, "nemesis", 0));
    }
}
