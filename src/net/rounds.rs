//! Which hosts meet in which round: a round-robin tournament (the circle method), so every
//! pair of hosts meets exactly once and no host is in two pairs of one round.

/// Unordered pairs `(a, b)`, `a < b`, of `n` hosts, grouped in rounds whose pairs can be measured
/// at the same time. `n - 1` rounds of `n / 2` pairs for even `n`; for odd `n` a bye is added,
/// giving `n` rounds of `(n - 1) / 2` pairs with one host idle in each.
pub fn rounds(n: usize) -> Vec<Vec<(usize, usize)>> {
    if n < 2 {
        return Vec::new();
    }
    // Seat m players round a table; the first stays put, the others turn one seat per round, and
    // players facing each other meet. A player numbered n or above is the bye.
    let m = n + n % 2;
    let mut seats: Vec<usize> = (0..m).collect();
    let mut out = Vec::with_capacity(m - 1);
    for _ in 0..m - 1 {
        let round = (0..m / 2)
            .map(|i| (seats[i], seats[m - 1 - i]))
            .filter(|&(a, b)| a < n && b < n)
            .map(|(a, b)| (a.min(b), a.max(b)))
            .collect();
        out.push(round);
        seats[1..].rotate_right(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_pair_meets_once_and_nobody_twice_in_a_round() {
        for n in 0..=41 {
            let r = rounds(n);
            let want_rounds = if n < 2 { 0 } else { n - 1 + n % 2 };
            assert_eq!(r.len(), want_rounds, "n = {n}");
            let mut seen = BTreeSet::new();
            for round in &r {
                assert_eq!(round.len(), n / 2, "n = {n}: {round:?}");
                let mut busy = BTreeSet::new();
                for &(a, b) in round {
                    assert!(a < b && b < n, "n = {n}: ({a}, {b})");
                    assert!(busy.insert(a) && busy.insert(b), "n = {n}: {round:?}");
                    assert!(seen.insert((a, b)), "n = {n}: ({a}, {b}) twice");
                }
            }
            assert_eq!(seen.len(), n * n.saturating_sub(1) / 2, "n = {n}");
        }
    }

    #[test]
    fn forty_hosts_take_39_rounds_of_20_pairs() {
        let r = rounds(40);
        assert_eq!(r.len(), 39);
        assert!(r.iter().all(|round| round.len() == 20));
    }
}
