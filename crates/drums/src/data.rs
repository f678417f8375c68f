//! The paper's language-model files `gpt3_{train,dev,test}.jsonl` (one
//! JSON object per line with `name`, `prompt` and `completion`; 372 / 47 /
//! 37 examples), read into token sequences: what the experiment and
//! `reprolab drums train` both train on.

use crate::codec::parse_line;
use crate::tokens;
use anyhow::Result;
use std::path::Path;

/// One LM example of the paper's jsonl files.
pub struct Example {
    pub name: String,
    pub prompt_lines: Vec<[bool; 6]>,
    pub tokens: Vec<usize>,
}

/// Every example of a `gpt3_*.jsonl` file, in file order; a line that is
/// not JSON, lacks a field or is not in the groove text format is a user
/// error naming the file and the line.
pub fn read_jsonl(path: &Path) -> Result<Vec<Example>> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| reprolab_core::user_error(format!("{shown}: cannot read ({e})")))?;
    let examples = text
        .lines()
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
            let prompt_lines: Vec<[bool; 6]> = prompt.lines().filter_map(parse_line).collect();
            // The experiment generates from the prompt's lines: none would
            // leave the model nothing to continue.
            if prompt_lines.is_empty() {
                reprolab_core::user_bail!("{shown}: line {}: the prompt has no groove lines", i + 1);
            }
            Ok(Example { name: field("name")?.to_string(), prompt_lines, tokens })
        })
        .collect::<Result<Vec<_>>>()?;
    // An empty file would train and evaluate on nothing.
    if examples.is_empty() {
        reprolab_core::user_bail!("{shown}: no examples");
    }
    Ok(examples)
}
