//! Named random streams derived from one run seed.
//!
//! Every consumer of randomness (data order, weight init, augmentation, path sampling, the
//! strategy) gets its own ChaCha stream, selected by name. Adding a consumer therefore never
//! shifts the numbers another consumer sees, and a resumed run can rebuild any stream exactly.

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

/// The root of a run's randomness: one seed, any number of named, independent streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedStreams {
    seed: u64,
}

impl SeedStreams {
    /// Streams rooted at `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// The run seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream called `name`: the same name always gives the same sequence for this seed.
    ///
    /// Names may carry an index (`"data-order/3"` for epoch 3) so that a resumed run can rebuild
    /// the stream of any epoch without replaying earlier ones.
    pub fn stream(&self, name: &str) -> ChaCha12Rng {
        let mut rng = ChaCha12Rng::seed_from_u64(self.seed);
        rng.set_stream(fnv1a(name.as_bytes()));
        rng
    }

    /// Streams of their own for one phase of a run (a warm-up before the search), rooted at
    /// the first draw of this run's stream `name`: the phase's `data-order/0` is not the
    /// run's.
    pub fn phase(&self, name: &str) -> SeedStreams {
        SeedStreams::new(rand::RngCore::next_u64(&mut self.stream(name)))
    }
}

/// One stream per epoch, `<prefix>/<epoch>`, for a consumer called step by step (path
/// sampling, drop-path masks): the stream of an epoch starts afresh when the epoch changes, so
/// a run resumed at any epoch draws what an uninterrupted run drew there.
#[derive(Debug, Clone)]
pub struct EpochStream {
    streams: SeedStreams,
    prefix: String,
    current: Option<(usize, ChaCha12Rng)>,
}

impl EpochStream {
    /// The per-epoch streams `<prefix>/<epoch>` of `streams`.
    pub fn new(streams: SeedStreams, prefix: &str) -> Self {
        Self {
            streams,
            prefix: prefix.to_string(),
            current: None,
        }
    }

    /// The stream of `epoch`, continuing where the last call of the same epoch left it.
    pub fn at(&mut self, epoch: usize) -> &mut ChaCha12Rng {
        if self.current.as_ref().is_none_or(|(e, _)| *e != epoch) {
            let rng = self.streams.stream(&format!("{}/{epoch}", self.prefix));
            self.current = Some((epoch, rng));
        }
        &mut self.current.as_mut().expect("set above").1
    }
}

/// FNV-1a, 64 bit: a fixed, documented hash, so stream ids never change between builds
/// (unlike `std`'s hasher, which is not guaranteed stable).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn same_name_same_numbers_other_name_other_numbers() {
        let streams = SeedStreams::new(7);
        let a: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(streams.stream("init"), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(streams.stream("init"), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(streams.stream("data-order/0"), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(SeedStreams::new(8).stream("init").next_u64(), a[0]);
    }

    #[test]
    fn an_epoch_stream_continues_within_an_epoch_and_restarts_at_the_next() {
        let streams = SeedStreams::new(3);
        let mut epochs = EpochStream::new(streams, "path");
        let first = [epochs.at(0).next_u64(), epochs.at(0).next_u64()];
        let mut whole = streams.stream("path/0");
        assert_eq!(first, [whole.next_u64(), whole.next_u64()]);
        assert_eq!(epochs.at(1).next_u64(), streams.stream("path/1").next_u64());
    }
}
