//! Medians of measured times, shared by the benchmark's report and `net`'s: finite values
//! only, found by selection in place.

/// Median of the finite values; `None` for none.
pub fn median(xs: &[f64]) -> Option<f64> {
    median_of(xs.to_vec())
}

/// Median of the finite values of `xs`, found in place (no sorted copy).
fn median_of(mut xs: Vec<f64>) -> Option<f64> {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return None;
    }
    let (m, even) = (xs.len() / 2, xs.len().is_multiple_of(2));
    let (below, &mut mid, _) = xs.select_nth_unstable_by(m, f64::total_cmp);
    Some(if even {
        let before = below.iter().copied().max_by(f64::total_cmp).expect("m ≥ 1");
        (before + mid) / 2.0
    } else {
        mid
    })
}

/// Median task seconds per group: `group[i]` is the group of `(group id, seconds)` item i.
/// Each group's times are gathered into a vector of exactly its size (a first pass counts
/// them): with 10⁷ tasks a doubling vector per group would cost rank 0 up to 16 bytes a task.
pub fn medians<I>(items: I, groups: usize) -> Vec<Option<f64>>
where
    I: Iterator<Item = (usize, f64)> + Clone,
{
    let mut counts = vec![0usize; groups];
    for (g, _) in items.clone() {
        if let Some(c) = counts.get_mut(g) {
            *c += 1;
        }
    }
    let mut by: Vec<Vec<f64>> = counts.into_iter().map(Vec::with_capacity).collect();
    for (g, secs) in items {
        if let Some(v) = by.get_mut(g) {
            v.push(secs);
        }
    }
    by.into_iter().map(median_of).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
        assert_eq!(median(&[]), None);
    }

    /// Selection in place gives the sorted list's median to the bit, duplicates included.
    #[test]
    fn median_in_place_is_the_sorted_median() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for n in 1..60 {
            let xs: Vec<f64> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((x >> 40) % 7) as f64 * 0.1 + (x >> 60) as f64
                })
                .collect();
            let mut sorted = xs.clone();
            sorted.sort_by(f64::total_cmp);
            let m = n / 2;
            let want = if n % 2 == 1 {
                sorted[m]
            } else {
                (sorted[m - 1] + sorted[m]) / 2.0
            };
            assert_eq!(
                median(&xs).map(f64::to_bits),
                Some(want.to_bits()),
                "{xs:?}"
            );
        }
    }

    #[test]
    fn medians_by_group() {
        let items = [(0, 3.0), (1, 10.0), (0, 1.0), (0, 2.0), (1, 20.0)];
        assert_eq!(
            medians(items.into_iter(), 3),
            vec![Some(2.0), Some(15.0), None]
        );
    }
}
