//! A measure-level n-gram baseline: the next measure is drawn from the
//! training measures that followed the same previous n-1 measures (backing
//! off to shorter contexts, down to all training measures), in proportion
//! to their counts. It can only recombine measures it has seen, so its
//! grooves are locally human and globally a patchwork.

use crate::codec::MEASURE;
use std::collections::HashMap;

type Measure = Vec<[bool; 6]>;

/// Counts of next measures per context.
#[derive(Debug, Clone)]
pub struct MeasureNgram {
    pub order: usize,
    /// Context (last k measures, k = 0..order-1) -> (next measure, count), sorted.
    table: HashMap<Vec<Measure>, Vec<(Measure, usize)>>,
}

impl MeasureNgram {
    /// Counts over the complete measures of `grooves` (lines).
    pub fn fit(grooves: &[Vec<[bool; 6]>], order: usize) -> Self {
        assert!(order >= 1, "an n-gram needs order >= 1");
        let mut counts: HashMap<Vec<Measure>, HashMap<Measure, usize>> = HashMap::new();
        for g in grooves {
            let measures: Vec<Measure> = g.chunks_exact(MEASURE).map(<[_]>::to_vec).collect();
            for i in 0..measures.len() {
                for k in 0..order.min(i + 1) {
                    let context = measures[i - k..i].to_vec();
                    *counts.entry(context).or_default().entry(measures[i].clone()).or_default() += 1;
                }
            }
        }
        let table = counts
            .into_iter()
            .map(|(c, next)| {
                let mut v: Vec<(Measure, usize)> = next.into_iter().collect();
                v.sort();
                (c, v)
            })
            .collect();
        Self { order, table }
    }

    /// The next measure after `history` for a uniform draw `u` in [0, 1).
    pub fn next(&self, history: &[Measure], u: f64) -> Measure {
        for k in (0..self.order.min(history.len() + 1)).rev() {
            if let Some(options) = self.table.get(&history[history.len() - k..]) {
                let total: usize = options.iter().map(|o| o.1).sum();
                let mut target = u * total as f64;
                for (m, c) in options {
                    if target < *c as f64 {
                        return m.clone();
                    }
                    target -= *c as f64;
                }
                return options[options.len() - 1].0.clone();
            }
        }
        vec![[false; 6]; MEASURE]
    }

    /// Continues `prompt` (whole measures) by `n_measures` measures.
    pub fn generate(&self, prompt: &[[bool; 6]], n_measures: usize, rng: &mut impl rand::Rng) -> Vec<[bool; 6]> {
        use rand::RngExt;
        let mut history: Vec<Measure> = prompt.chunks_exact(MEASURE).map(<[_]>::to_vec).collect();
        for _ in 0..n_measures {
            let next = self.next(&history, rng.random());
            history.push(next);
        }
        history.concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(bit: usize) -> Measure {
        let mut m = vec![[false; 6]; MEASURE];
        m[0][bit] = true;
        m
    }

    #[test]
    fn bigram_follows_seen_transitions_and_backs_off() {
        // A B A B and A C: after A comes B twice and C once.
        let g1 = [measure(0), measure(1), measure(0), measure(1)].concat();
        let g2 = [measure(0), measure(2)].concat();
        let model = MeasureNgram::fit(&[g1, g2], 2);
        // options are sorted (C < B < A as bit patterns): C takes [0, 1/3), B the rest
        assert_eq!(model.next(&[measure(0)], 0.3), measure(2));
        assert_eq!(model.next(&[measure(0)], 0.34), measure(1));
        // an unseen context backs off to all measures: C 1x, B 2x, A 3x
        assert_eq!(model.next(&[measure(5)], 0.1), measure(2));
        assert_eq!(model.next(&[measure(5)], 0.4), measure(1));
        assert_eq!(model.next(&[measure(5)], 0.6), measure(0));
        let mut rng = reprolab_core::rng::rng(0);
        assert_eq!(model.generate(&measure(1), 3, &mut rng).len(), 4 * MEASURE);
    }
}
