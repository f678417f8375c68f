//! The paper's language-model files `gpt3_{train,dev,test}.jsonl` (one
//! JSON object per line with `name`, `prompt` and `completion`; 372 / 47 /
//! 37 examples), read into token sequences: what the experiment and
//! `reprolab drums train` both train on.

use crate::codec::parse_line;
use crate::tokens;
use anyhow::Result;
use std::path::Path;

/// One LM example of the paper's jsonl files.
pub(crate) struct Example {
    pub(crate) name: String,
    pub(crate) prompt_lines: Vec<[bool; 6]>,
    pub(crate) tokens: Vec<usize>,
}

/// Every example of a `gpt3_*.jsonl` file, in file order; a line that is
/// not JSON, lacks a field or is not in the groove text format is a user
/// error naming the file and the line.
pub(crate) fn read_jsonl(path: &Path) -> Result<Vec<Example>> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| reprolab_core::user_error(format!("{shown}: cannot read ({e})")))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let row: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| reprolab_core::user_error(format!("{shown}: line {}: {e}", i + 1)))?;
            let field = |k: &str| {
                row[k].as_str().ok_or_else(|| reprolab_core::user_error(format!("{shown}: line {}: no '{k}'", i + 1)))
            };
            let (prompt, completion) = (field("prompt")?, field("completion")?);
            let tokens = tokens::example_tokens(prompt, completion).ok_or_else(|| {
                reprolab_core::user_error(format!("{shown}: line {}: not in the groove text format", i + 1))
            })?;
            let prompt_lines = prompt.lines().filter_map(parse_line).collect();
            Ok(Example { name: field("name")?.to_string(), prompt_lines, tokens })
        })
        .collect()
}
