//! Errors that are the user's to fix (a bad file, an unknown method, a wrong
//! config key) versus everything else.
//!
//! The CLI exits with code 2 and one line when any error in the chain is a
//! [`UserError`]; other errors are bugs or resource failures (code 1).

/// A problem with what the user gave us. The message names the thing (file,
/// key, method) and the problem in one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// Builds an `anyhow::Error` carrying a [`UserError`]. A message that
/// quotes a parser's multi-line diagnostic (npyz's, a TOML parser's, a
/// damaged file's bytes) is folded onto one line here, so every user
/// error is one line whatever it quotes.
pub fn user_error(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError(one_line(msg.into())))
}

/// `text` with its line breaks (and the indentation after them) folded
/// into single spaces.
pub fn one_line(text: String) -> String {
    if !text.contains(['\n', '\r']) {
        return text;
    }
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// True when any error in the chain is a [`UserError`].
pub fn is_user_error(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<UserError>())
}

/// `bail!` for user errors: `user_bail!("{}: empty file", path.display())`.
#[macro_export]
macro_rules! user_bail {
    ($($arg:tt)*) => {
        return Err($crate::error::user_error(format!($($arg)*)))
    };
}

/// Checks that two slices have the same non-zero length (a common metric
/// precondition) and says which argument is wrong otherwise.
pub fn check_same_len(what: &str, a: usize, b: usize) -> anyhow::Result<()> {
    if a != b {
        user_bail!("{what}: inputs have different lengths ({a} vs {b})");
    }
    if a == 0 {
        user_bail!("{what}: inputs are empty");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_errors_are_one_line_whatever_they_quote() {
        let e = user_error("a.npy: not valid (syntax error:\n  --> 1:3\n  |\n  = expected digit)");
        assert_eq!(e.to_string(), "a.npy: not valid (syntax error: --> 1:3 | = expected digit)");
        assert!(is_user_error(&e));
        assert_eq!(user_error("plain  text").to_string(), "plain  text", "no line break: unchanged");
    }
}
