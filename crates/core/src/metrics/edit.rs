//! Levenshtein edit distance (insertions, deletions, substitutions, each
//! cost 1), for comparing token sequences such as drum patterns.

/// Edit distance between two sequences of any comparable items.
pub fn levenshtein<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    // One row of the DP table at a time: O(len(b)) memory.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for (i, ai) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, bj) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ai != bj);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Edit distance between two strings, counted in Unicode scalar values.
pub fn levenshtein_str(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    levenshtein(&a, &b)
}
