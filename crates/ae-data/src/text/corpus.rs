use std::path::{Path, PathBuf};

use super::vocabulary::TokenizerKind;
use crate::error::{DataError, Result};
/// Reads text from a file or a folder of files: a file with a line holding only `%` is read as
/// `fortune` entries (each entry's lines joined by spaces), any other as one sentence per line;
/// a folder contributes every `.txt` file and every file without an extension (`fortune` data
/// files, not their `.dat` indexes or `.u8` links), in name order. Whitespace runs become single
/// spaces; empty entries are dropped.
///
/// # Errors
/// When the path cannot be read, a file is not UTF-8 (the line is named), or nothing is left.
pub fn read_corpus(path: &Path) -> Result<Vec<String>> {
    let files: Vec<PathBuf> = if path.is_dir() {
        // Every entry is read or an error; only hidden ones and files with another extension
        // than `.txt` (the `.dat` indexes of `fortune` files, their `.u8` links) are left out,
        // by rule.
        let is_text = |p: &Path| {
            p.extension()
                .is_none_or(|e| e.to_str().is_some_and(|e| e.eq_ignore_ascii_case("txt")))
        };
        ae_io::read_dir(path, None)?
            .into_iter()
            .filter(|p| is_text(p) && !p.is_dir())
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    let mut entries = Vec::new();
    for file in &files {
        let text = ae_io::read_to_string(file, ae_io::Limit::data())?;
        let fortune = text.lines().any(|l| l.trim_end() == "%");
        if fortune {
            let mut entry = String::new();
            for line in text.lines().chain(std::iter::once("%")) {
                if line.trim_end() == "%" {
                    let joined = normalise(&entry);
                    if !joined.is_empty() {
                        entries.push(joined);
                    }
                    entry.clear();
                } else {
                    entry.push_str(line);
                    entry.push(' ');
                }
            }
        } else {
            entries.extend(text.lines().map(normalise).filter(|l| !l.is_empty()));
        }
    }
    if entries.is_empty() {
        return Err(DataError::InvalidArgument {
            what: "corpus",
            message: if path.is_dir() {
                format!(
                    "{} holds no text: a folder's .txt files and files without an extension \
                     (fortune files) are read",
                    path.display()
                )
            } else {
                format!("{} holds no text", path.display())
            },
        });
    }
    Ok(entries)
}

/// `text` with its runs of whitespace and control characters (a NUL, a terminal's escape
/// sequence, a backspace) as single spaces, trimmed: no control character becomes a token, or
/// reaches a terminal when a sentence is printed.
fn normalise(text: &str) -> String {
    let text = without_escape_sequences(text);
    let mut joined = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(word);
    }
    joined
}

/// `text` without a terminal's escape sequences (`ESC [ 31 m`, colour codes in captured
/// output): their letters would otherwise become words.
fn without_escape_sequences(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\x1b') {
        return text.into();
    }
    let mut kept = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            kept.push(c);
            continue;
        }
        kept.push(' ');
        // A control sequence: `[`, parameters, and a final byte in `@`..=`~`.
        if chars.next_if_eq(&'[').is_some() {
            for next in chars.by_ref() {
                if ('@'..='~').contains(&next) {
                    break;
                }
            }
        }
    }
    kept.into()
}

/// Cuts text into sentences after `.`, `!` or `?` followed by a space.
pub fn split_sentences(text: &str) -> Vec<String> {
    let mut sentences = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        let ends = matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|n| n.is_whitespace());
        if ends {
            let sentence = current.trim();
            if !sentence.is_empty() {
                sentences.push(sentence.to_string());
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        sentences.push(current.trim().to_string());
    }
    sentences
}

/// Sentences of `entries` whose token count under `kind` lies in `min_tokens..=max_tokens`,
/// without duplicates (first occurrence kept).
pub fn sentences_for_training(
    entries: &[String],
    kind: TokenizerKind,
    min_tokens: usize,
    max_tokens: usize,
) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    entries
        .iter()
        .flat_map(|e| split_sentences(e))
        // Every whitespace-separated word is a token or more: a sentence of more words is too
        // long without being tokenised (a 50 MB line took 57 times its size to tokenise).
        .filter(|s| s.split_whitespace().nth(max_tokens).is_none())
        // A character is a token of its own to the character tokenizer.
        .filter(|s| !matches!(kind, TokenizerKind::Char) || s.chars().nth(max_tokens).is_none())
        .filter(|s| (min_tokens..=max_tokens).contains(&kind.tokenize(s).len()))
        .filter(|s| seen.insert(s.clone()))
        .collect()
}

/// Shuffles `sentences` (seeded) and holds out `test_fraction` of them: `(train, test)`.
///
/// # Errors
/// When the fraction is outside `(0, 1)` or leaves a split empty.
pub fn split_train_test(
    mut sentences: Vec<String>,
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<String>, Vec<String>)> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let test_count = (sentences.len() as f64 * test_fraction).round() as usize;
    if !(test_fraction > 0.0 && test_fraction < 1.0)
        || test_count == 0
        || test_count >= sentences.len()
    {
        return Err(DataError::InvalidArgument {
            what: "test fraction",
            message: format!(
                "{test_fraction} of {} sentences leaves a split empty",
                sentences.len()
            ),
        });
    }
    sentences.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let test = sentences.split_off(sentences.len() - test_count);
    Ok((sentences, test))
}
