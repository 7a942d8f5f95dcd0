use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{BOS, EOS, PAD, SPECIAL_TOKENS, UNK};
use crate::error::{DataError, Result};

/// The largest `vocab.json` read: 64 MiB, room for millions of tokens.
const VOCABULARY_LIMIT: ae_io::Limit = ae_io::Limit::new(
    64 << 20,
    "a vocabulary",
    "it is not a vocab.json this workspace wrote",
);

/// How text is cut into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerKind {
    /// Every character is a token (case kept).
    Char,
    /// Lower-cased words (letters, digits and apostrophes) and single punctuation marks.
    Word,
}

impl TokenizerKind {
    /// Cuts `text` into tokens.
    pub fn tokenize(self, text: &str) -> Vec<String> {
        match self {
            Self::Char => text.chars().map(String::from).collect(),
            Self::Word => {
                let mut tokens = Vec::new();
                let mut word = String::new();
                for c in text.chars() {
                    if c.is_alphanumeric() || c == '\'' {
                        word.extend(c.to_lowercase());
                        continue;
                    }
                    if !word.is_empty() {
                        tokens.push(std::mem::take(&mut word));
                    }
                    if !c.is_whitespace() {
                        tokens.push(c.to_string());
                    }
                }
                if !word.is_empty() {
                    tokens.push(word);
                }
                tokens
            }
        }
    }

    /// Joins tokens back into text: characters as they are; words with spaces, none before
    /// closing punctuation.
    pub fn detokenize<S: AsRef<str>>(self, tokens: &[S]) -> String {
        match self {
            Self::Char => tokens.iter().map(AsRef::as_ref).collect(),
            Self::Word => {
                let mut text = String::new();
                for token in tokens {
                    let token = token.as_ref();
                    let closing = token.len() == 1
                        && matches!(token, "." | "," | "!" | "?" | ";" | ":" | ")" | "]");
                    if !text.is_empty() && !closing && !text.ends_with(['(', '[']) {
                        text.push(' ');
                    }
                    text.push_str(token);
                }
                text
            }
        }
    }
}

/// A tokenizer with its vocabulary: token strings to indices and back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vocabulary {
    /// How text is cut into tokens.
    pub kind: TokenizerKind,
    /// Token strings by index; the first four are [`SPECIAL_TOKENS`].
    pub tokens: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

impl Vocabulary {
    /// Builds a vocabulary from `sentences`: the special tokens, then the `max_size - 4` most
    /// frequent tokens (ties broken alphabetically, so the result does not depend on the order of
    /// the sentences).
    ///
    /// # Errors
    /// When `max_size` leaves no room beyond the special tokens.
    pub fn build<S: AsRef<str>>(
        kind: TokenizerKind,
        sentences: &[S],
        max_size: usize,
    ) -> Result<Self> {
        if max_size <= SPECIAL_TOKENS.len() {
            return Err(DataError::InvalidArgument {
                what: "vocabulary size",
                message: format!(
                    "{max_size} leaves no room beyond the {} special tokens",
                    SPECIAL_TOKENS.len()
                ),
            });
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for sentence in sentences {
            for token in kind.tokenize(sentence.as_ref()) {
                *counts.entry(token).or_default() += 1;
            }
        }
        let mut by_count: Vec<(String, usize)> = counts.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let tokens = SPECIAL_TOKENS
            .iter()
            .map(|s| s.to_string())
            .chain(
                by_count
                    .into_iter()
                    .map(|(t, _)| t)
                    .filter(|t| !SPECIAL_TOKENS.contains(&t.as_str())),
            )
            .take(max_size)
            .collect();
        Ok(Self::from_tokens(kind, tokens))
    }

    /// A vocabulary from its token list (as saved in JSON).
    pub fn from_tokens(kind: TokenizerKind, tokens: Vec<String>) -> Self {
        let index = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect();
        Self {
            kind,
            tokens,
            index,
        }
    }

    /// A checksum of the tokenizer and the tokens in index order ([`ae_io::checksum`]): a model
    /// records it, so that a `vocab.json` of another run with as many tokens is told apart.
    pub fn checksum(&self) -> String {
        let kind = match self.kind {
            TokenizerKind::Word => "word",
            TokenizerKind::Char => "char",
        };
        // Each token ends with a 0 byte: ["ab", "c"] and ["a", "bc"] differ.
        ae_io::checksum(
            std::iter::once(kind)
                .chain(self.tokens.iter().map(String::as_str))
                .flat_map(|token| token.bytes().chain([0])),
        )
    }

    /// The number of tokens, the special ones included.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocabulary holds only... nothing (never true for a built one).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The index of a token ([`UNK`] when it is not in the vocabulary).
    pub fn id(&self, token: &str) -> usize {
        self.index.get(token).copied().unwrap_or(UNK)
    }

    /// Token indices of `text`, without [`BOS`]/[`EOS`].
    pub fn encode(&self, text: &str) -> Vec<usize> {
        self.kind
            .tokenize(text)
            .iter()
            .map(|t| self.id(t))
            .collect()
    }

    /// Text of token indices, stopping at [`EOS`] and skipping [`PAD`] and [`BOS`].
    pub fn decode(&self, ids: &[usize]) -> String {
        let tokens: Vec<&str> = ids
            .iter()
            .take_while(|&&id| id != EOS)
            .filter(|&&id| id != PAD && id != BOS)
            .map(|&id| self.tokens.get(id).map_or("<?>", String::as_str))
            .collect();
        self.kind.detokenize(&tokens)
    }

    /// Writes the vocabulary as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| DataError::InvalidArgument {
            what: "vocabulary",
            message: e.to_string(),
        })?;
        crate::idx::write_atomic(path, &json)
    }

    /// Reads a vocabulary written by [`save`](Self::save).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = ae_io::read(path, VOCABULARY_LIMIT)?;
        let saved: Self = serde_json::from_slice(&bytes).map_err(|e| DataError::Csv {
            path: path.to_path_buf(),
            line: e.line() as u64,
            column: Some(e.column()),
            message: format!("not a vocabulary file: {e}"),
        })?;
        let tokens_ok = saved.tokens.len() > SPECIAL_TOKENS.len()
            && saved.tokens.iter().zip(SPECIAL_TOKENS).all(|(a, b)| a == b);
        if !tokens_ok {
            return Err(DataError::InvalidArgument {
                what: "vocabulary",
                message: format!(
                    "{} must start with the special tokens {SPECIAL_TOKENS:?} and hold more",
                    path.display()
                ),
            });
        }
        Ok(Self::from_tokens(saved.kind, saved.tokens))
    }
}
