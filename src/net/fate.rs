//! What happens to one message on a link: a pure function of the link's
//! behaviour and its random draws, so the HTTP links, and a simulated
//! network, decide the same way for the same seed and arrival order.
//!
//! Drop and hold take no draw; loss, reply loss, duplicate (and the copy's
//! delay) and the delay are drawn in that order.

use std::time::Duration;

use rand::Rng;

use super::behaviour::{DropMode, LinkBehaviour};
use super::delay::{chance, sample_delay};

/// A duplicate copy goes out this long (at most) after the original.
pub const DUPLICATE_DELAY_MS_MAX: u64 = 10;

/// The fate of one message, decided when it reaches the link.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// Partitioned: not delivered; how the sender learns of it.
    Drop(DropMode),
    /// Lost on the way: not delivered, the sender gets an error.
    Lose,
    /// Delivered (perhaps late, perhaps twice).
    Deliver(Delivery),
}

/// How a delivered message travels.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Held until the link releases it.
    pub held: bool,
    /// Latency plus reorder delay before it is delivered.
    pub delay: Duration,
    /// A second copy follows this long after the first, if duplicated.
    pub duplicate_after: Option<Duration>,
    /// The receiver's reply is lost: the sender sees an error.
    pub reply_lost: bool,
}

/// The fate of the next message on a link behaving as `behaviour`.
pub fn decide(behaviour: &LinkBehaviour, rng: &mut impl Rng) -> Fate {
    if behaviour.drop {
        return Fate::Drop(behaviour.drop_mode);
    }
    if chance(behaviour.loss, rng) {
        return Fate::Lose;
    }
    let reply_lost = chance(behaviour.reply_loss, rng);
    let duplicate_after = chance(behaviour.duplicate, rng)
        .then(|| Duration::from_millis(rng.random_range(1..=DUPLICATE_DELAY_MS_MAX)));
    let delay = sample_delay(behaviour, rng);
    Fate::Deliver(Delivery {
        held: behaviour.hold,
        delay,
        duplicate_after,
        reply_lost,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Latency;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(3)
    }

    #[test]
    fn a_healthy_link_delivers_at_once_without_drawing() {
        let mut r = rng();
        let fate = decide(&LinkBehaviour::pass(), &mut r);
        assert_eq!(
            fate,
            Fate::Deliver(Delivery {
                held: false,
                delay: Duration::ZERO,
                duplicate_after: None,
                reply_lost: false
            })
        );
        // No randomness consumed: the next draw is the seed's first.
        assert_eq!(r.random::<u64>(), rng().random::<u64>());
    }

    #[test]
    fn a_cut_link_drops_before_anything_else() {
        let cut = LinkBehaviour {
            loss: 1.0,
            ..LinkBehaviour::partitioned()
        };
        assert_eq!(decide(&cut, &mut rng()), Fate::Drop(DropMode::Refuse));
    }

    #[test]
    fn fractions_hold_over_many_messages_and_the_same_seed_decides_the_same() {
        let faulty = LinkBehaviour {
            duplicate: 0.3,
            loss: 0.05,
            latency: Latency::Uniform {
                min_ms: 5,
                max_ms: 10,
            },
            ..LinkBehaviour::pass()
        };
        let fates: Vec<Fate> = {
            let mut r = rng();
            (0..10_000).map(|_| decide(&faulty, &mut r)).collect()
        };
        let again: Vec<Fate> = {
            let mut r = rng();
            (0..10_000).map(|_| decide(&faulty, &mut r)).collect()
        };
        assert_eq!(fates, again);
        let lost = fates.iter().filter(|f| **f == Fate::Lose).count();
        let doubled = fates
            .iter()
            .filter(|f| matches!(f, Fate::Deliver(d) if d.duplicate_after.is_some()))
            .count();
        assert!((400..600).contains(&lost), "{lost} lost of 10000");
        assert!(
            (2600..3100).contains(&doubled),
            "{doubled} duplicated of ~9500"
        );
        assert!(fates.iter().all(|f| match f {
            Fate::Deliver(d) => (5..=10).contains(&(d.delay.as_millis() as u64)),
            _ => true,
        }));
    }
}
