//! A lucky draw anyone can check (issue 30), as a pure rule.
//!
//! When a draw opens the server picks a random 32-byte seed and publishes only its commitment,
//! `SHA-256(seed)` in hex. When it closes it publishes the seed, the list of entrants and the
//! winners. Anyone can then check that the seed matches the commitment and re-run [`draw`]:
//! the entrants are put in a canonical order (sorted by their public key, e.g. a masked phone
//! number's hash), and winners are picked by a partial Fisher-Yates shuffle driven by
//! `SHA-256(seed || counter)`, with rejection sampling so that every entrant is equally likely.
//! Because the seed was fixed before anyone entered, the server could not choose entrants'
//! luck; because the order is canonical, the order people entered in does not matter.

use sha2::{Digest, Sha256};

/// The commitment published when a draw opens: lower-case hex of `SHA-256(seed)`.
pub fn commitment(seed: &[u8; 32]) -> String {
    hex(&Sha256::digest(seed))
}

/// Whether `seed` is the one committed to.
pub fn matches_commitment(seed: &[u8; 32], commitment_hex: &str) -> bool {
    commitment(seed) == commitment_hex.to_ascii_lowercase()
}

/// Picks `winners` of `entrants` (each a distinct public key; duplicates count once) with
/// `seed`. Returns the winners' keys in the order they were drawn. Fewer entrants than
/// winners: everyone wins.
pub fn draw(seed: &[u8; 32], entrants: &[String], winners: usize) -> Vec<String> {
    let mut pool: Vec<&String> = entrants.iter().collect();
    pool.sort();
    pool.dedup();
    let mut stream = Stream::new(seed);
    let take = winners.min(pool.len());
    for i in 0..take {
        // Uniform in i..len: partial Fisher-Yates.
        let j = i + stream.below((pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.into_iter().take(take).cloned().collect()
}

/// Uniform numbers from `SHA-256(seed || counter)`, 8 bytes at a time.
struct Stream<'a> {
    seed: &'a [u8; 32],
    counter: u64,
}

impl<'a> Stream<'a> {
    fn new(seed: &'a [u8; 32]) -> Stream<'a> {
        Stream { seed, counter: 0 }
    }

    fn next_u64(&mut self) -> u64 {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.counter.to_be_bytes());
        self.counter += 1;
        let d = h.finalize();
        u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
    }

    /// Uniform in `0..n` (n > 0): values in the incomplete last span are drawn again.
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn people(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("entrant-{i:05}")).collect()
    }

    #[test]
    fn the_commitment_is_the_seeds_sha256() {
        let seed = [0u8; 32];
        // SHA-256 of 32 zero bytes.
        assert_eq!(
            commitment(&seed),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        assert!(matches_commitment(&seed, &commitment(&seed).to_uppercase()));
        assert!(!matches_commitment(&[1u8; 32], &commitment(&seed)));
    }

    #[test]
    fn the_same_seed_and_entrants_give_the_same_winners_whatever_their_order() {
        let seed = [7u8; 32];
        let mut list = people(1_000);
        let first = draw(&seed, &list, 3);
        list.reverse();
        list.push(list[0].clone()); // entering twice changes nothing
        assert_eq!(draw(&seed, &list, 3), first);
        assert_eq!(first.len(), 3);
        assert_ne!(
            draw(&[8u8; 32], &list, 3),
            first,
            "another seed, another draw"
        );
    }

    #[test]
    fn fewer_entrants_than_prizes_all_win() {
        let list = people(2);
        let mut won = draw(&[1u8; 32], &list, 5);
        won.sort();
        assert_eq!(won, list);
        assert!(draw(&[1u8; 32], &[], 1).is_empty());
    }

    /// Over many seeds each of 10 entrants wins one prize about a tenth of the time.
    #[test]
    fn every_entrant_is_about_equally_likely() {
        let list = people(10);
        let mut wins = [0u32; 10];
        for s in 0..5_000u32 {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&s.to_be_bytes());
            let w = &draw(&seed, &list, 1)[0];
            wins[list.iter().position(|e| e == w).expect("an entrant")] += 1;
        }
        for (i, n) in wins.iter().enumerate() {
            // Expected 500; 5 standard deviations is about ±106.
            assert!((394..=606).contains(n), "entrant {i} won {n} of 5,000");
        }
    }

    proptest! {
        /// Winners are distinct entrants, as many as asked (or everyone), never anyone else.
        #[test]
        fn winners_are_distinct_entrants(
            seed in proptest::array::uniform32(any::<u8>()),
            n in 0usize..200,
            k in 0usize..20,
        ) {
            let list = people(n);
            let won = draw(&seed, &list, k);
            prop_assert_eq!(won.len(), k.min(n));
            let mut distinct = won.clone();
            distinct.sort();
            distinct.dedup();
            prop_assert_eq!(distinct.len(), won.len());
            prop_assert!(won.iter().all(|w| list.contains(w)));
        }
    }
}
