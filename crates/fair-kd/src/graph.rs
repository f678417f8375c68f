//! The similarity graphs of the fairness benchmarks, built with the rule of
//! the official loaders (NIFTY / RELIANT `build_relationship`): with
//! `sim(i, j) = 1 / (1 + ||x_i - x_j||)` on the raw feature columns, node i
//! links to every j != i with `sim(i, j) > thresh * max_{k != i} sim(i, k)`;
//! the graph is then made undirected. Bail uses thresh 0.6 and credit 0.7.
//!
//! The N x N similarity matrix is never stored: rows are computed in
//! parallel (rayon), each in one pass for its maximum and one to select,
//! in f64 like numpy's `distance_matrix`.

use rayon::prelude::*;

/// Directed edges `i -> j` (i != j) of the rule above, sorted.
pub fn similarity_edges(features: &[f32], n: usize, d: usize, thresh: f64) -> Vec<(usize, usize)> {
    assert_eq!(features.len(), n * d, "features must be n x d");
    let x: Vec<f64> = features.iter().map(|&v| f64::from(v)).collect();
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let mut edges: Vec<(usize, usize)> = (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            let xi = row(i);
            let sims: Vec<f64> = (0..n)
                .map(|j| {
                    let dist2: f64 = xi.iter().zip(row(j)).map(|(a, b)| (a - b) * (a - b)).sum();
                    1.0 / (1.0 + dist2.sqrt())
                })
                .collect();
            let max =
                sims.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, &s)| s).fold(f64::NEG_INFINITY, f64::max);
            sims.into_iter().enumerate().filter(move |&(j, s)| j != i && s > thresh * max).map(move |(j, _)| (i, j))
        })
        .collect();
    edges.sort_unstable();
    edges
}

/// The undirected edge set `{i, j}` (i < j) of directed edges.
pub fn undirected(edges: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> =
        edges.iter().map(|&(a, b)| (a.min(b), a.max(b))).filter(|(a, b)| a != b).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Degree statistics of an undirected edge set on `n` nodes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DegreeStats {
    pub nodes: usize,
    pub edges: usize,
    pub mean: f64,
    pub median: f64,
    pub max: usize,
    pub isolated: usize,
}

pub fn degree_stats(n: usize, undirected_edges: &[(usize, usize)]) -> DegreeStats {
    let mut degree = vec![0usize; n];
    for &(a, b) in undirected_edges {
        degree[a] += 1;
        degree[b] += 1;
    }
    let mut sorted = degree.clone();
    sorted.sort_unstable();
    let median = if n == 0 {
        0.0
    } else if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0
    };
    DegreeStats {
        nodes: n,
        edges: undirected_edges.len(),
        mean: 2.0 * undirected_edges.len() as f64 / n.max(1) as f64,
        median,
        max: sorted.last().copied().unwrap_or(0),
        isolated: degree.iter().filter(|&&k| k == 0).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four points on a line at 0, 1, 3, 10. Similarities 1/(1+|a-b|):
    /// node 0: to 1 0.5, to 2 0.25, to 3 1/11 -> max 0.5, thresh 0.6 keeps > 0.3: {1}
    /// node 1: to 0 0.5, to 2 1/3, to 3 0.1 -> keeps > 0.3: {0, 2}
    /// node 2: to 0 0.25, to 1 1/3, to 3 0.125 -> keeps > 0.2: {0, 1}
    /// node 3: to 0 1/11, to 1 0.1, to 2 0.125 -> keeps > 0.075: {0, 1, 2}
    #[test]
    fn the_official_rule_by_hand() {
        let edges = similarity_edges(&[0.0, 1.0, 3.0, 10.0], 4, 1, 0.6);
        assert_eq!(edges, vec![(0, 1), (1, 0), (1, 2), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]);
        let und = undirected(&edges);
        assert_eq!(und, vec![(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]);
        let stats = degree_stats(4, &und);
        assert_eq!((stats.edges, stats.max, stats.isolated), (6, 3, 0));
        assert_eq!(stats.mean, 3.0);
    }
}
