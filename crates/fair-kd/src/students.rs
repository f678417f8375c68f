//! Student architectures, to test that RELIANT works "independently of the
//! student architecture": an MLP on node features (no graph), SGC (logistic
//! regression on 1-hop propagated features, Wu et al. 2019), and a
//! parameterised label-propagation student after CPF's PLP (Yang et al.
//! 2021): each node mixes its own feature-based prior with the
//! propagated predictions of its neighbours, with a learned per-node
//! confidence. Every student maps (features, graph) to class
//! probabilities, so the proxy can replace feature columns for any of them.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid, softmax};
use burn::tensor::{Device, Tensor};
use reprolab_core::nn::NormalisedAdjacency;
use serde::{Deserialize, Serialize};

/// Which student (`--student mlp|sgc|plp`, config `"mlp"` / `"sgc"` / `"plp"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StudentKind {
    /// 2-layer MLP on the node features (no graph).
    Mlp,
    /// 1-hop SGC: logistic regression on propagated features.
    Sgc,
    /// PLP-style parameterised label propagation.
    Plp,
}

impl StudentKind {
    pub fn name(self) -> &'static str {
        match self {
            StudentKind::Mlp => "MLP",
            StudentKind::Sgc => "SGC",
            StudentKind::Plp => "PLP",
        }
    }
}

/// Propagation steps of SGC (1 hop) and of PLP.
pub const SGC_HOPS: usize = 1;
const PLP_STEPS: usize = 5;

/// A student: its layers (unused ones are empty) and its kind.
#[derive(Module, Debug)]
pub struct Student {
    pub hidden: Option<Linear>,
    pub out: Linear,
    /// PLP's per-node confidence in its own prior.
    pub confidence: Option<Linear>,
    #[module(skip)]
    pub kind: StudentKind,
}

impl Student {
    pub fn new(kind: StudentKind, d: usize, hidden: usize, device: &Device) -> Self {
        match kind {
            StudentKind::Mlp => Self {
                hidden: Some(LinearConfig::new(d, hidden).init(device)),
                out: LinearConfig::new(hidden, 2).init(device),
                confidence: None,
                kind,
            },
            StudentKind::Sgc => {
                Self { hidden: None, out: LinearConfig::new(d, 2).init(device), confidence: None, kind }
            }
            StudentKind::Plp => Self {
                hidden: None,
                out: LinearConfig::new(d, 2).init(device),
                confidence: Some(LinearConfig::new(d, 1).init(device)),
                kind,
            },
        }
    }

    /// Class probabilities `[n, 2]` from node features `[n, d]`.
    pub fn probabilities(&self, x: Tensor<2>, adj: &NormalisedAdjacency) -> Tensor<2> {
        self.probabilities_of_inputs(self.inputs(x, adj), adj)
    }

    /// What the learned layers read: SGC's propagated features A^K x, the
    /// raw features for the others. Column-wise linear in `x`, so a caller
    /// that replaces some feature columns can transform the fixed columns
    /// once and only the replaced ones each step (SGC has no parameters
    /// before its propagation; the paper's SGC precomputes it the same way).
    pub fn inputs(&self, x: Tensor<2>, adj: &NormalisedAdjacency) -> Tensor<2> {
        match self.kind {
            StudentKind::Sgc => (0..SGC_HOPS).fold(x, |h, _| adj.propagate(h)),
            StudentKind::Mlp | StudentKind::Plp => x,
        }
    }

    /// Class probabilities `[n, 2]` from [`Student::inputs`].
    pub fn probabilities_of_inputs(&self, x: Tensor<2>, adj: &NormalisedAdjacency) -> Tensor<2> {
        match self.kind {
            StudentKind::Mlp => {
                let h = relu(self.hidden.as_ref().expect("MLP hidden layer").forward(x));
                softmax(self.out.forward(h), 1)
            }
            StudentKind::Sgc => softmax(self.out.forward(x), 1),
            StudentKind::Plp => {
                let prior = softmax(self.out.forward(x.clone()), 1);
                let c = sigmoid(self.confidence.as_ref().expect("PLP confidence").forward(x));
                // Rows are two-class distributions, so P(y = 1) alone carries
                // them. Symmetric normalisation is not row-stochastic: the
                // neighbours' mix A p is renormalised by its row sum, which
                // for distributions is the constant A 1.
                let [n, _] = prior.dims();
                let row_sums = adj.propagate(Tensor::ones([n, 1], &prior.device()));
                let prior = prior.narrow(1, 1, 1);
                let mut p = prior.clone();
                for _ in 0..PLP_STEPS {
                    let q = adj.propagate(p) / row_sums.clone();
                    p = prior.clone() * c.clone() + q * (c.clone().neg().add_scalar(1.0));
                }
                Tensor::cat(vec![p.clone().neg().add_scalar(1.0), p], 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn every_student_outputs_probabilities() {
        let dev = reprolab_core::device::default_device();
        let adj = NormalisedAdjacency::from_undirected(4, &[(0, 1), (1, 2), (2, 3)], &dev).unwrap();
        let x =
            Tensor::<2>::from_data(TensorData::new((0..12).map(|v| v as f32 / 6.0).collect::<Vec<_>>(), [4, 3]), &dev);
        for kind in [StudentKind::Mlp, StudentKind::Sgc, StudentKind::Plp] {
            let p: Vec<f32> =
                Student::new(kind, 3, 8, &dev).probabilities(x.clone(), &adj).into_data().try_to_vec().unwrap();
            assert_eq!(p.len(), 8);
            for row in p.chunks(2) {
                assert!(
                    row.iter().all(|v| (0.0..=1.0).contains(v)) && (row[0] + row[1] - 1.0).abs() < 1e-4,
                    "{kind:?}: {p:?}"
                );
            }
        }
    }

    /// Distillation transforms the fixed feature columns once and the
    /// proxied ones each step; that must equal transforming the whole
    /// replaced matrix.
    #[test]
    fn inputs_transform_columns_independently() {
        let dev = reprolab_core::device::default_device();
        let adj = NormalisedAdjacency::from_undirected(5, &[(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)], &dev).unwrap();
        let x: Vec<f32> = (0..15).map(|v| ((v * 7) % 11) as f32 / 5.0).collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [5, 3]), &dev);
        let replacement = Tensor::<2>::from_data(TensorData::new(vec![0.3f32, -1.0, 2.0, 0.5, 1.5], [5, 1]), &dev);
        for kind in [StudentKind::Mlp, StudentKind::Sgc, StudentKind::Plp] {
            let student = Student::new(kind, 3, 4, &dev);
            let whole = Tensor::cat(vec![x.clone().narrow(1, 0, 2), replacement.clone()], 1);
            let direct: Vec<f32> = student.probabilities(whole, &adj).into_data().try_to_vec().unwrap();
            let fixed = student.inputs(x.clone(), &adj).narrow(1, 0, 2);
            let split = Tensor::cat(vec![fixed, student.inputs(replacement.clone(), &adj)], 1);
            let parts: Vec<f32> = student.probabilities_of_inputs(split, &adj).into_data().try_to_vec().unwrap();
            for (a, b) in direct.iter().zip(&parts) {
                assert!((a - b).abs() < 1e-5, "{kind:?}: {direct:?} vs {parts:?}");
            }
        }
    }
}
