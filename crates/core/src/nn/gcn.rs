//! Graph convolution (Kipf & Welling): H' = A_hat H W with
//! A_hat = D^-1/2 (A + I) D^-1/2, applied as a sparse gather / scatter-add
//! over the edge list so graphs of tens of thousands of nodes never need an
//! N x N matrix.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

/// A_hat as edge lists: for each edge `src -> dst`, `weight = 1 / sqrt(d_src d_dst)`.
#[derive(Debug, Clone)]
pub struct NormalisedAdjacency {
    pub n_nodes: usize,
    pub src: Tensor<1, Int>,
    pub dst: Tensor<1, Int>,
    /// `[n_edges, 1]`, to broadcast over features.
    pub weight: Tensor<2>,
    pub n_edges: usize,
}

impl NormalisedAdjacency {
    /// From undirected edges (each listed once or twice; duplicates and
    /// self-loops in the input are ignored), adding self-loops.
    pub fn from_undirected(n_nodes: usize, edges: &[(usize, usize)], device: &Device) -> anyhow::Result<Self> {
        let mut pairs: Vec<(usize, usize)> = Vec::with_capacity(edges.len() * 2 + n_nodes);
        for &(a, b) in edges {
            if a >= n_nodes || b >= n_nodes {
                crate::user_bail!("edge ({a}, {b}) names a node outside 0..{n_nodes}");
            }
            if a != b {
                pairs.push((a, b));
                pairs.push((b, a));
            }
        }
        pairs.extend((0..n_nodes).map(|i| (i, i)));
        pairs.sort_unstable();
        pairs.dedup();
        let mut degree = vec![0f32; n_nodes];
        for &(s, _) in &pairs {
            degree[s] += 1.0;
        }
        let weight: Vec<f32> = pairs.iter().map(|&(s, d)| 1.0 / (degree[s] * degree[d]).sqrt()).collect();
        let n_edges = pairs.len();
        let src: Vec<i64> = pairs.iter().map(|p| p.0 as i64).collect();
        let dst: Vec<i64> = pairs.iter().map(|p| p.1 as i64).collect();
        Ok(Self {
            n_nodes,
            src: Tensor::from_data(TensorData::new(src, [n_edges]), device),
            dst: Tensor::from_data(TensorData::new(dst, [n_edges]), device),
            weight: Tensor::from_data(TensorData::new(weight, [n_edges, 1]), device),
            n_edges,
        })
    }

    /// A_hat x for node features `[n_nodes, f]`.
    pub fn propagate(&self, x: Tensor<2>) -> Tensor<2> {
        let [n, f] = x.dims();
        let messages = x.clone().select(0, self.src.clone()) * self.weight.clone();
        Tensor::zeros([n, f], &x.device()).select_assign(0, self.dst.clone(), messages, IndexingUpdateOp::Add)
    }
}

/// One GCN layer: A_hat (x W) (+ bias).
#[derive(Module, Debug)]
pub struct GraphConv {
    pub linear: Linear,
}

impl GraphConv {
    pub fn new(d_in: usize, d_out: usize, device: &Device) -> Self {
        Self { linear: LinearConfig::new(d_in, d_out).init(device) }
    }

    pub fn forward(&self, x: Tensor<2>, adj: &NormalisedAdjacency) -> Tensor<2> {
        adj.propagate(self.linear.forward(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_matches_the_dense_formula() {
        let dev = crate::device::default_device();
        // path 0-1-2: degrees with self-loops 2, 3, 2
        let adj = NormalisedAdjacency::from_undirected(3, &[(0, 1), (1, 2), (1, 0)], &dev).unwrap();
        assert_eq!(adj.n_edges, 7);
        let x = Tensor::<2>::from_data(TensorData::new(vec![1f32, 2., 4.], [3, 1]), &dev);
        let y: Vec<f32> = adj.propagate(x).into_data().try_to_vec().unwrap();
        let s6 = 6f32.sqrt();
        // row 0: x0/2 + x1/sqrt(6); row 1: x0/sqrt6 + x1/3 + x2/sqrt6; row 2: x1/sqrt6 + x2/2
        let want = [1.0 / 2.0 + 2.0 / s6, 1.0 / s6 + 2.0 / 3.0 + 4.0 / s6, 2.0 / s6 + 4.0 / 2.0];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{y:?} vs {want:?}");
        }
        assert!(NormalisedAdjacency::from_undirected(2, &[(0, 5)], &dev).is_err());
    }
}
