//! The paper's structural evaluation of a groove (its analysis.py): how
//! much each measure differs from its closer neighbour, and whether those
//! differences split into "repeat" and "vary" clusters.
//!
//! Exactly as the official code builds them, a groove's lines keep their
//! newlines, a measure is its 16 lines joined with "\n" (so separators
//! count in the edit distance), and only the first 16 measures are used.
//! For measures i = 2..15, stability `s_i = min(Lev(m_i, m_{i-1}),
//! Lev(m_i, m_{i+1}))`. Per groove, a 1-D 2-means on the s_i gives the gap
//! between the two centres and the mean distance to the own centre
//! ("spread"). The official code ran scikit-learn's KMeans; here the
//! 2-means is exact (the best split of the sorted values), which is what
//! KMeans finds on 14 one-dimensional points.

use reprolab_core::metrics::edit::levenshtein_str;
use serde::Serialize;

/// Measures used per groove.
pub const MEASURES: usize = 16;

/// The lines of a text groove as Python's `readlines` returns them: each
/// keeps its trailing newline (the last may have none); `\r\n` counts as
/// `\n`, as Python's text mode reads it.
pub fn lines_of(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n").split_inclusive('\n').map(str::to_string).collect()
}

/// The measures of a groove as the official code compares them: the first
/// [`MEASURES`] groups of 16 lines (each line keeping its newline), joined
/// with `"\n"`.
pub fn measure_strings(lines: &[String]) -> Vec<String> {
    lines.chunks(16).take(MEASURES).map(|m| m.join("\n")).collect()
}

/// The paper's measure stability of measure `i` (0-based, with a measure on
/// each side): the edit distance to the closer neighbour,
///
/// `s_i = min(Lev(m_i, m_{i-1}), Lev(m_i, m_{i+1}))`,
///
/// Lev the Levenshtein distance between the measure strings. 0 = the
/// measure repeats a neighbour.
pub fn measure_stability(measures: &[String], i: usize) -> f64 {
    let before = levenshtein_str(&measures[i], &measures[i - 1]);
    let after = levenshtein_str(&measures[i], &measures[i + 1]);
    before.min(after) as f64
}

/// Stability of measures 2..15 (`MEASURES - 2` values, fewer for short
/// grooves): [`measure_stability`] of each measure with two neighbours.
pub fn stabilities(lines: &[String]) -> Vec<f64> {
    let measures = measure_strings(lines);
    (1..measures.len().saturating_sub(1)).map(|i| measure_stability(&measures, i)).collect()
}

fn mean_of(s: &[f64]) -> f64 {
    s.iter().sum::<f64>() / s.len() as f64
}

/// The exact 1-D 2-means of `sorted` (ascending, at least two values): the
/// split into a low group `sorted[..k]` and a high group `sorted[k..]`
/// minimising the within-group sum of squares,
///
/// `k* = argmin_{1 <= k < n} sum_{x in low} (x - c_low)^2 + sum_{x in high} (x - c_high)^2`,
///
/// c the group means (the first k wins a tie within 1e-12). Returns the
/// two groups.
pub fn two_means_split(sorted: &[f64]) -> (&[f64], &[f64]) {
    let sse = |s: &[f64]| {
        let m = mean_of(s);
        s.iter().map(|x| (x - m) * (x - m)).sum::<f64>()
    };
    let mut best = (f64::INFINITY, 1);
    for split in 1..sorted.len() {
        let cost = sse(&sorted[..split]) + sse(&sorted[split..]);
        if cost < best.0 - 1e-12 {
            best = (cost, split);
        }
    }
    sorted.split_at(best.1)
}

/// The paper's gap between the two 2-means centres of a groove's
/// stabilities: `gap = |c_high - c_low|`, c the means of the two groups of
/// [`two_means_split`].
pub fn centre_gap(low: &[f64], high: &[f64]) -> f64 {
    (mean_of(high) - mean_of(low)).abs()
}

/// The paper's spread within clusters: the mean distance of each value to
/// its own 2-means centre,
///
/// `spread = (sum_{x in low} |x - c_low| + sum_{x in high} |x - c_high|) / n`,
///
/// n the number of values of both groups.
pub fn spread_within_clusters(low: &[f64], high: &[f64]) -> f64 {
    let (c_low, c_high) = (mean_of(low), mean_of(high));
    (low.iter().map(|x| (x - c_low).abs()).sum::<f64>() + high.iter().map(|x| (x - c_high).abs()).sum::<f64>())
        / (low.len() + high.len()) as f64
}

/// Exact 1-D 2-means: the split of the sorted values into a low and a
/// high group with the least within-group sum of squares
/// ([`two_means_split`]). Returns ([`centre_gap`], [`spread_within_clusters`]).
/// With fewer than two values, or all values equal, both are 0.
pub fn two_means(values: &[f64]) -> (f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.len() < 2 {
        return (0.0, 0.0);
    }
    let (low, high) = two_means_split(&v);
    (centre_gap(low, high), spread_within_clusters(low, high))
}

/// One groove's structure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GrooveStructure {
    pub stabilities: Vec<f64>,
    pub centre_gap: f64,
    pub spread: f64,
}

/// The structure of one text groove.
pub fn groove_structure(text: &str) -> GrooveStructure {
    let stabilities = stabilities(&lines_of(text));
    let (centre_gap, spread) = two_means(&stabilities);
    GrooveStructure { stabilities, centre_gap, spread }
}

/// The summary over a set of grooves, as the paper's table reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub grooves: usize,
    /// Mean of every s_i of every groove.
    pub mean_stability: f64,
    /// Mean over grooves of the gap between the two 2-means centres.
    pub centre_gap: f64,
    /// Mean over grooves of the mean distance to the own centre.
    pub spread: f64,
}

/// The paper's mean stability s of a set of grooves: the mean of every
/// stability of every groove, `s = (1 / sum_g |S_g|) * sum_g sum_{s_i in S_g} s_i`
/// (0 when there is none).
pub fn mean_stability(grooves: &[GrooveStructure]) -> f64 {
    let all: Vec<f64> = grooves.iter().flat_map(|g| g.stabilities.iter().copied()).collect();
    all.iter().sum::<f64>() / all.len().max(1) as f64
}

/// Summarises per-groove structures.
pub fn summarise(grooves: &[GrooveStructure]) -> Summary {
    let per = |f: fn(&GrooveStructure) -> f64| grooves.iter().map(f).sum::<f64>() / grooves.len().max(1) as f64;
    Summary {
        grooves: grooves.len(),
        mean_stability: mean_stability(grooves),
        centre_gap: per(|g| g.centre_gap),
        spread: per(|g| g.spread),
    }
}

/// The paper's random baseline: 256 lines of uniform `o`/`-` cells.
pub fn random_groove(rng: &mut impl rand::Rng) -> String {
    use rand::RngExt;
    (0..256).map(|_| (0..6).map(|_| if rng.random::<bool>() { 'o' } else { '-' }).collect::<String>() + "\n").collect()
}

/// The paper's repeat baseline: measure 1, then measure 2 fifteen times.
pub fn repeat_groove(text: &str) -> String {
    let lines = lines_of(text);
    let first: String = lines.iter().take(16).cloned().collect();
    let second: String = lines.iter().skip(16).take(16).cloned().collect();
    first + &second.repeat(15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_means_finds_the_best_split_by_hand() {
        // {0, 0, 1} and {9, 10}: centres 1/3 and 9.5, gap 9.1667; distances
        // 1/3, 1/3, 2/3, 1/2, 1/2 -> mean 7/15.
        let (gap, spread) = two_means(&[10.0, 0.0, 9.0, 1.0, 0.0]);
        assert!((gap - (9.5 - 1.0 / 3.0)).abs() < 1e-12, "{gap}");
        assert!((spread - 7.0 / 15.0).abs() < 1e-12, "{spread}");
        assert_eq!(two_means(&[3.0; 14]), (0.0, 0.0));
        assert_eq!(two_means(&[]), (0.0, 0.0));
    }

    #[test]
    fn stability_is_the_closer_neighbours_distance_with_separators() {
        // 48 lines: measures A, B, A where B differs from A in one cell.
        let a = "------\n".repeat(16);
        let b = "o-----\n".to_string() + &"------\n".repeat(15);
        let text = format!("{a}{b}{a}");
        assert_eq!(stabilities(&lines_of(&text)), vec![1.0]);
        // a line-count difference shows up through the newline separators:
        // measures of 16 lines each; the middle one lost its newline at the end.
        assert_eq!(lines_of("ab\ncd").len(), 2);
        let repeat = repeat_groove(&format!("{a}{b}{a}{b}"));
        assert_eq!(lines_of(&repeat).len(), 256);
        assert!(stabilities(&lines_of(&repeat)).iter().all(|&s| s == 0.0));
    }
}
