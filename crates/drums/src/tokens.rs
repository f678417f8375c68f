//! One token vocabulary for natural-language pre-training and grooves, so
//! the pre-trained and the from-scratch models are the same architecture
//! with the same embedding table: ids 0..256 are bytes (pre-training
//! text), 256..320 the 64 possible groove lines (six hit/rest bits), then
//! `SEP`, `END` and padding. A groove line is one token (ours, for
//! compute): GPT-3 read the grooves as text, and its BPE (GPT-2's r50k
//! encoding) spends 3.2 tokens per line on the paper's files (3.29 on the
//! stored davinci test outputs, 3.21 on the `gpt3_train.jsonl` prompts and
//! completions; counted with the `gpt-3-encoder` npm package), so a groove
//! is about 860 BPE tokens or 1,900 bytes against 272 tokens here. Since
//! pre-training on bytes never sees these ids, the pre-trained model starts
//! each of them from its bytes' weights ([`crate::transfer`]).

use crate::codec::{Groove, MEASURE, line_text, parse_line};

pub const BYTES: usize = 256;
pub const LINE0: usize = BYTES;
pub const SEP: usize = LINE0 + 64;
pub const END: usize = SEP + 1;
pub const PAD: usize = END + 1;
pub const VOCAB: usize = PAD + 1;

/// The token of a groove line.
pub fn line_token(row: &[bool; 6]) -> usize {
    LINE0 + row.iter().enumerate().map(|(i, &hit)| usize::from(hit) << (5 - i)).sum::<usize>()
}

/// The groove line of a token in `LINE0..SEP`.
pub fn token_line(token: usize) -> Option<[bool; 6]> {
    (LINE0..SEP).contains(&token).then(|| {
        let bits = token - LINE0;
        std::array::from_fn(|i| bits >> (5 - i) & 1 == 1)
    })
}

/// Tokens of lines with a `SEP` after every measure (the LM format of the
/// paper's jsonl files, without the `END`).
pub fn measures_with_seps(lines: &[[bool; 6]]) -> Vec<usize> {
    let mut out = Vec::with_capacity(lines.len() + lines.len() / MEASURE + 1);
    for measure in lines.chunks(MEASURE) {
        out.extend(measure.iter().map(line_token));
        out.push(SEP);
    }
    out
}

/// A training sequence from an LM example's prompt and completion text:
/// every pattern line, `SEP` and `END` becomes its token. `None` if a line
/// is neither.
pub fn example_tokens(prompt: &str, completion: &str) -> Option<Vec<usize>> {
    prompt
        .lines()
        .chain(completion.lines())
        .filter(|l| !l.is_empty())
        .map(|l| match l {
            "SEP" => Some(SEP),
            "END" => Some(END),
            _ => parse_line(l).map(|row| line_token(&row)),
        })
        .collect()
}

/// What a model generated after a prompt, decoded: the pattern lines up to
/// `END` (SEP and any byte tokens dropped but counted), and whether the
/// completion is well formed (ends with `END`, `SEP` after every 16 lines
/// and nowhere else).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub groove: Groove,
    pub well_formed: bool,
    /// Tokens that are not groove tokens (bytes, padding), skipped.
    pub invalid_tokens: usize,
}

/// Decodes `prompt_lines` followed by generated `tokens`.
pub fn decode(prompt_lines: &[[bool; 6]], tokens: &[usize]) -> Decoded {
    let mut lines = prompt_lines.to_vec();
    let (mut invalid, mut well_formed, mut ended) = (0, true, false);
    let mut in_measure = 0;
    for &t in tokens {
        match t {
            END => {
                ended = true;
                break;
            }
            SEP => {
                well_formed &= in_measure == MEASURE;
                in_measure = 0;
            }
            t => match token_line(t) {
                Some(row) => {
                    lines.push(row);
                    in_measure += 1;
                    well_formed &= in_measure <= MEASURE;
                }
                None => invalid += 1,
            },
        }
    }
    well_formed &= ended && in_measure == MEASURE && invalid == 0;
    Decoded { groove: Groove { lines }, well_formed, invalid_tokens: invalid }
}

/// The text of decoded lines (for the structural metrics and files).
pub fn lines_text(lines: &[[bool; 6]]) -> String {
    lines.iter().map(|l| line_text(l) + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_tokens_round_trip_and_examples_tokenise() {
        for t in LINE0..SEP {
            assert_eq!(line_token(&token_line(t).unwrap()), t);
        }
        assert_eq!(line_token(&[true, false, false, false, false, false]), LINE0 + 32);
        assert_eq!(token_line(SEP), None);
        let prompt = "o-----\n".repeat(16) + "SEP\n";
        let completion = "------\n".repeat(16) + "END";
        let tokens = example_tokens(&prompt, &completion).unwrap();
        assert_eq!(tokens.len(), 34);
        assert_eq!((tokens[0], tokens[16], tokens[17], tokens[33]), (LINE0 + 32, SEP, LINE0, END));
        assert!(example_tokens("bad\n", "END").is_none());
    }

    #[test]
    fn decoding_checks_the_measure_layout() {
        let m = vec![LINE0 + 1; 16];
        let good: Vec<usize> = m.iter().copied().chain([SEP]).chain(m.iter().copied()).chain([END]).collect();
        let d = decode(&[], &good);
        assert!(d.well_formed && d.groove.lines.len() == 32 && d.invalid_tokens == 0);
        let short: Vec<usize> = m[..15].iter().copied().chain([SEP, END]).collect();
        assert!(!decode(&[], &short).well_formed);
        let bytes = [LINE0, 65, END];
        let d = decode(&[], &bytes);
        assert_eq!((d.well_formed, d.invalid_tokens, d.groove.lines.len()), (false, 1, 1));
        assert!(!decode(&[], &m).well_formed, "no END");
    }
}
