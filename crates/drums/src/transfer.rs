//! What carries natural-language pre-training over to grooves: each groove
//! token starts from the pre-trained weights of the bytes it is written
//! with.
//!
//! GPT-3 read a groove as text: the line `o--o--` and its newline are
//! bytes it had seen in pre-training (about 3.2 GPT-2 BPE tokens per line
//! on the paper's files). Here a groove line is one token (ids
//! `LINE0..SEP`, see [`crate::tokens`]), which pre-training on bytes never
//! sees; left at its random initialisation, it would share nothing with
//! what the model learnt from text, and the comparison with the
//! from-scratch model could not show a transfer. So after pre-training,
//! each groove token (a pattern line, `SEP`, `END`) starts from what the
//! pre-trained model makes of its bytes ([`token_bytes`]: `o--o--\n`,
//! `SEP\n`, `END`):
//!
//! - its input embedding is the pre-trained model's final hidden state
//!   (after the last layer norm, the vector the head reads) at the last of
//!   its bytes, the bytes fed at positions `0..n`: the model's own summary
//!   of the line in order. (The mean of the byte embeddings, the usual
//!   initialisation of new tokens, would give every line with the same
//!   number of hits the same vector here: `o-----` and `-----o` are the
//!   same bytes in another order.)
//! - its output column (head weight and bias) is the mean of its bytes'
//!   columns, so its logit starts at the mean of its bytes' logits.
//!
//! Feeding the groove as bytes (seven tokens per line, 1,900 per groove
//! instead of 272) would keep GPT-3's reading exactly but costs at least
//! seven times the compute of every fine-tuning and sampling step.

use crate::codec::line_text;
use crate::lm::Lm;
use crate::tokens::{BYTES, END, LINE0, SEP, VOCAB, token_line};
use burn::module::Module;
use burn::tensor::{Tensor, TensorData};

/// The bytes a groove token stands for in the paper's text format: a
/// pattern line with its newline, `SEP\n`, `END`; `None` for byte tokens
/// and padding.
pub fn token_bytes(token: usize) -> Option<Vec<u8>> {
    match token {
        SEP => Some(b"SEP\n".to_vec()),
        END => Some(b"END".to_vec()),
        t => token_line(t).map(|row| (line_text(&row) + "\n").into_bytes()),
    }
}

/// `rows` (`[VOCAB, d]` row-major) with every groove token's row set to the
/// mean of its bytes' rows.
fn mean_of_byte_rows(mut rows: Vec<f32>, d: usize) -> Vec<f32> {
    debug_assert_eq!(rows.len(), VOCAB * d);
    for token in LINE0..=END {
        let bytes = token_bytes(token).expect("groove tokens have bytes");
        let mut mean = vec![0.0f32; d];
        for &b in &bytes {
            debug_assert!(usize::from(b) < BYTES);
            for (m, x) in mean.iter_mut().zip(&rows[usize::from(b) * d..(usize::from(b) + 1) * d]) {
                *m += x / bytes.len() as f32;
            }
        }
        rows[token * d..(token + 1) * d].copy_from_slice(&mean);
    }
    rows
}

/// The pre-trained model's final hidden state at the last byte of each
/// groove token's bytes, `[END + 1 - LINE0][d_model]` (see the module docs).
fn contextual_rows(model: &Lm) -> Vec<Vec<f32>> {
    let plain = model.valid();
    let device = plain.tokens.weight.val().device();
    (LINE0..=END)
        .map(|token| {
            let bytes = token_bytes(token).expect("groove tokens have bytes");
            let ids: Vec<i64> = bytes.iter().map(|&b| i64::from(b)).collect();
            let n = ids.len();
            let hidden = plain.hidden(Tensor::from_data(TensorData::new(ids, [1, n]), &device));
            let d = hidden.dims()[2];
            hidden.slice([0..1, n - 1..n]).reshape([d]).into_data().try_to_vec::<f32>().expect("f32 hidden")
        })
        .collect()
}

/// `model` with each groove token's input embedding set to the model's
/// hidden state at its bytes and its output column (weight and bias) to
/// the mean of its bytes' (see the module docs); every other weight
/// unchanged.
pub fn groove_tokens_from_bytes(mut model: Lm) -> Lm {
    let contextual = contextual_rows(&model);
    model.tokens.weight = model.tokens.weight.map(|w| {
        let [v, d] = w.dims();
        let mut rows = w.to_data().try_to_vec::<f32>().expect("f32 embedding");
        for (k, row) in contextual.iter().enumerate() {
            rows[(LINE0 + k) * d..(LINE0 + k + 1) * d].copy_from_slice(row);
        }
        let rg = w.is_require_grad();
        Tensor::from_data(TensorData::new(rows, [v, d]), &w.device()).set_require_grad(rg)
    });
    // The head's weight is [d_model, VOCAB]: a token's column is its row of
    // the transpose.
    model.head.weight = model.head.weight.map(|w| {
        let [d, v] = w.dims();
        let rg = w.is_require_grad();
        let rows = w.clone().transpose().to_data().try_to_vec::<f32>().expect("f32 head");
        Tensor::<2>::from_data(TensorData::new(mean_of_byte_rows(rows, d), [v, d]), &w.device())
            .transpose()
            .set_require_grad(rg)
    });
    if let Some(bias) = model.head.bias.take() {
        model.head.bias = Some(bias.map(|b| {
            let rg = b.is_require_grad();
            let rows = b.to_data().try_to_vec::<f32>().expect("f32 bias");
            Tensor::from_data(TensorData::new(mean_of_byte_rows(rows, 1), [VOCAB]), &b.device()).set_require_grad(rg)
        }));
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::LmConfig;

    fn rows(t: Tensor<2>) -> Vec<Vec<f32>> {
        let [n, d] = t.dims();
        let v = t.into_data().try_to_vec::<f32>().unwrap();
        (0..n).map(|i| v[i * d..(i + 1) * d].to_vec()).collect()
    }

    #[test]
    fn groove_tokens_start_from_their_bytes() {
        assert_eq!(token_bytes(LINE0 + 0b100100).unwrap(), b"o--o--\n");
        assert_eq!(token_bytes(SEP).unwrap(), b"SEP\n");
        assert_eq!(token_bytes(usize::from(b'o')), None);
        let device = reprolab_core::device::default_device();
        device.seed(3);
        let model = LmConfig { d_model: 8, n_heads: 2, n_layers: 1, context: 8 }.init(&device.clone().autodiff());
        let (emb, head) = (rows(model.tokens.weight.val()), rows(model.head.weight.val().transpose()));
        let bias = model.head.bias.as_ref().unwrap().val().into_data().try_to_vec::<f32>().unwrap();
        let before = model.valid();
        let moved = groove_tokens_from_bytes(model);
        let (emb2, head2) = (rows(moved.tokens.weight.val()), rows(moved.head.weight.val().transpose()));
        let bias2 = moved.head.bias.as_ref().unwrap().val().into_data().try_to_vec::<f32>().unwrap();
        // o--o--\n: two 'o', four '-', one '\n'
        let (o, dash, nl) = (usize::from(b'o'), usize::from(b'-'), usize::from(b'\n'));
        let line = LINE0 + 0b100100;
        // the embedding: the hidden state at the line's last byte, in order
        let ids = Tensor::from_data(
            TensorData::new(b"o--o--\n".iter().map(|&b| i64::from(b)).collect::<Vec<_>>(), [1, 7]),
            &device,
        );
        let hidden: Vec<f32> = before.hidden(ids).slice([0..1, 6..7]).into_data().try_to_vec().unwrap();
        for k in 0..8 {
            assert!((emb2[line][k] - hidden[k]).abs() < 1e-5, "embedding {k}");
            let want = (2.0 * head[o][k] + 4.0 * head[dash][k] + head[nl][k]) / 7.0;
            assert!((head2[line][k] - want).abs() < 1e-6, "head {k}");
            // the byte rows and padding are unchanged
            assert_eq!(emb2[o][k], emb[o][k]);
            assert_eq!(emb2[crate::tokens::PAD][k], emb[crate::tokens::PAD][k]);
        }
        // the same bytes in another order get another embedding (a mean would not)
        assert_ne!(emb2[LINE0 + 0b100100], emb2[LINE0 + 0b010010]);
        let (x, y) = (&head2[LINE0 + 0b100100], &head2[LINE0 + 0b010010]);
        assert!(x.iter().zip(y).all(|(a, b)| (a - b).abs() < 1e-6), "the head columns are byte means");
        assert_ne!(emb2[line], emb[line]);
        let want = (bias[usize::from(b'E')] + bias[usize::from(b'N')] + bias[usize::from(b'D')]) / 3.0;
        assert!((bias2[END] - want).abs() < 1e-6);
        // still trainable
        assert!(moved.tokens.weight.val().is_require_grad());
    }
}
