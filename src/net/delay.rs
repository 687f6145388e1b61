//! Sampling the delays a link applies: its latency distribution plus the
//! per-message reorder delay, drawn from the link's seeded RNG.

use std::time::Duration;

use rand::Rng;

use super::behaviour::{Latency, LinkBehaviour};

/// Exponential draws are capped at this many times the mean, so one unlucky
/// draw cannot stall a message for the rest of the test.
pub const EXPONENTIAL_CAP: f64 = 20.0;

/// One draw from `latency`.
pub fn sample_latency(latency: &Latency, rng: &mut impl Rng) -> Duration {
    match *latency {
        Latency::None => Duration::ZERO,
        Latency::Constant { ms } => Duration::from_millis(ms),
        Latency::Uniform { min_ms, max_ms } => {
            let (lo, hi) = (min_ms.min(max_ms), min_ms.max(max_ms));
            Duration::from_millis(rng.random_range(lo..=hi))
        }
        Latency::Exponential { mean_ms } => {
            if mean_ms == 0 {
                return Duration::ZERO;
            }
            let u: f64 = rng.random(); // in [0, 1)
            let mean = mean_ms as f64;
            let ms = (-mean * (1.0 - u).ln()).min(mean * EXPONENTIAL_CAP);
            Duration::from_micros((ms * 1000.0) as u64)
        }
    }
}

/// The whole delay for one message under `behaviour`: latency, plus a uniform
/// `0..=reorder_ms` when reordering.
pub fn sample_delay(behaviour: &LinkBehaviour, rng: &mut impl Rng) -> Duration {
    let mut delay = sample_latency(&behaviour.latency, rng);
    if behaviour.reorder && behaviour.reorder_ms > 0 {
        delay += Duration::from_millis(rng.random_range(0..=behaviour.reorder_ms));
    }
    delay
}

/// Whether an event of probability `p` happens (`p` clamped to 0..=1; no draw
/// is taken when `p` is 0, so a healthy link does not consume randomness).
pub fn chance(p: f64, rng: &mut impl Rng) -> bool {
    if p <= 0.0 || p.is_nan() {
        false
    } else if p >= 1.0 {
        true
    } else {
        rng.random_bool(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    #[test]
    fn constant_and_none_are_exact() {
        let mut r = rng();
        assert_eq!(sample_latency(&Latency::None, &mut r), Duration::ZERO);
        assert_eq!(
            sample_latency(&Latency::Constant { ms: 50 }, &mut r),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn uniform_stays_in_bounds_and_tolerates_swapped_bounds() {
        let mut r = rng();
        for _ in 0..1000 {
            let d = sample_latency(
                &Latency::Uniform {
                    min_ms: 30,
                    max_ms: 10,
                },
                &mut r,
            );
            assert!((10..=30).contains(&d.as_millis()), "{d:?}");
        }
    }

    #[test]
    fn exponential_has_roughly_its_mean_and_is_capped() {
        let mut r = rng();
        let n = 20_000;
        let draws: Vec<Duration> = (0..n)
            .map(|_| sample_latency(&Latency::Exponential { mean_ms: 10 }, &mut r))
            .collect();
        let mean_ms = draws.iter().map(|d| d.as_secs_f64() * 1000.0).sum::<f64>() / n as f64;
        assert!((9.0..11.0).contains(&mean_ms), "mean {mean_ms}");
        assert!(draws.iter().all(|d| d.as_millis() <= 200));
    }

    #[test]
    fn reorder_adds_up_to_reorder_ms() {
        let mut r = rng();
        let b = LinkBehaviour {
            latency: Latency::Constant { ms: 5 },
            reorder: true,
            reorder_ms: 50,
            ..LinkBehaviour::default()
        };
        let draws: Vec<u128> = (0..1000)
            .map(|_| sample_delay(&b, &mut r).as_millis())
            .collect();
        assert!(draws.iter().all(|d| (5..=55).contains(d)));
        assert!(draws.iter().any(|&d| d != draws[0]), "delays vary");
    }

    #[test]
    fn same_seed_same_draws() {
        let b = LinkBehaviour {
            latency: Latency::Exponential { mean_ms: 10 },
            ..Default::default()
        };
        let (mut r1, mut r2) = (rng(), rng());
        for _ in 0..100 {
            assert_eq!(sample_delay(&b, &mut r1), sample_delay(&b, &mut r2));
        }
    }

    #[test]
    fn chance_extremes_take_no_draw() {
        let (mut r1, mut r2) = (rng(), rng());
        assert!(!chance(0.0, &mut r1));
        assert!(chance(1.0, &mut r1));
        assert_eq!(r1.random::<u64>(), r2.random::<u64>());
    }
}
