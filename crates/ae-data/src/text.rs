//! Text for sequence autoencoders: corpora (one sentence per line, or `fortune` files whose
//! entries are separated by lines holding `%`), character- and word-level tokenizers with a capped
//! vocabulary, and batching to padded `Tensor<2, Int>` with a mask.
//!
//! Token indices 0-3 are reserved in every [`Vocabulary`]: [`PAD`], [`BOS`] (start of sentence,
//! the decoder's first input), [`EOS`] (end of sentence, its last target) and [`UNK`] (a token
//! outside the vocabulary, or a word dropped from the decoder's input).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Padding: fills sequences up to the batch's longest; never a target of the loss.
pub const PAD: usize = 0;
/// Beginning of sentence: the decoder's first input.
pub const BOS: usize = 1;
/// End of sentence: the decoder's last target.
pub const EOS: usize = 2;
/// Unknown token.
pub const UNK: usize = 3;
/// The reserved tokens, in index order.
pub const SPECIAL_TOKENS: [&str; 4] = ["<pad>", "<s>", "</s>", "<unk>"];

/// Where Debian's `fortunes` package installs its quotation files.
pub const FORTUNES_DIR: &str = "/usr/share/games/fortunes";

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

    /// Number of tokens, special ones included.
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
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
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

/// Reads text from a file or a folder of files: a file with a line holding only `%` is read as
/// `fortune` entries (each entry's lines joined by spaces), any other as one sentence per line;
/// a folder contributes every file without an extension (`fortune` data files, not their `.dat`
/// indexes), in name order. Whitespace runs become single spaces; empty entries are dropped.
///
/// # Errors
/// When the path cannot be read, a file is not UTF-8 (the line is named), or nothing is left.
pub fn read_corpus(path: &Path) -> Result<Vec<String>> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| DataError::io(path, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_none())
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut entries = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| DataError::io(file, e))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            DataError::Csv {
                path: file.clone(),
                line: 1 + valid.iter().filter(|&&b| b == b'\n').count() as u64,
                column: None,
                message: "not UTF-8 text".into(),
            }
        })?;
        let fortune = text.lines().any(|l| l.trim_end() == "%");
        let normalise = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
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
            message: format!("{} holds no text", path.display()),
        });
    }
    Ok(entries)
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

/// One sentence as token indices (without [`BOS`]/[`EOS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenItem {
    /// The token indices.
    pub ids: Vec<usize>,
}

/// Sentences as token indices, each cut to at most `max_len` tokens.
#[derive(Debug, Clone)]
pub struct TextDataset {
    items: Vec<TokenItem>,
}

impl TextDataset {
    /// Encodes `sentences` with `vocabulary`, cutting each to `max_len` tokens and dropping empty
    /// ones.
    pub fn new<S: AsRef<str>>(vocabulary: &Vocabulary, sentences: &[S], max_len: usize) -> Self {
        let items = sentences
            .iter()
            .map(|s| {
                let mut ids = vocabulary.encode(s.as_ref());
                ids.truncate(max_len);
                TokenItem { ids }
            })
            .filter(|item| !item.ids.is_empty())
            .collect();
        Self { items }
    }

    /// The items.
    pub fn items(&self) -> &[TokenItem] {
        &self.items
    }

    /// Share of tokens that are [`UNK`].
    pub fn unknown_rate(&self) -> f64 {
        let total: usize = self.items.iter().map(|i| i.ids.len()).sum();
        let unknown: usize = self
            .items
            .iter()
            .map(|i| i.ids.iter().filter(|&&id| id == UNK).count())
            .sum();
        unknown as f64 / total.max(1) as f64
    }
}

impl Dataset<TokenItem> for TextDataset {
    fn get(&self, index: usize) -> std::result::Result<TokenItem, DatasetError> {
        self.items.get(index).cloned().ok_or_else(|| {
            DataError::past_the_end("sentence index", index, self.items.len(), "items")
        })
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// A batch of sentences, padded to the longest one, for an encoder-decoder trained with teacher
/// forcing.
#[derive(Debug, Clone)]
pub struct TextBatch {
    /// The sentences, padded with [`PAD`].
    ///
    /// # Shapes
    /// `[N, L]`
    pub tokens: Tensor<2, Int>,
    /// One at each sentence's last token, zero elsewhere: picks the encoder's final state.
    ///
    /// # Shapes
    /// `[N, L]`
    pub last: Tensor<2>,
    /// The decoder's inputs: [`BOS`] then the sentence, padded.
    ///
    /// # Shapes
    /// `[N, L + 1]`
    pub decoder_inputs: Tensor<2, Int>,
    /// The decoder's targets: the sentence then [`EOS`], padded with [`PAD`].
    ///
    /// # Shapes
    /// `[N, L + 1]`
    pub targets: Tensor<2, Int>,
}

/// Turns [`TokenItem`]s into a [`TextBatch`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TextBatcher;

impl TextBatcher {
    /// Batches `items` on `device` (the same as [`Batcher::batch`]).
    pub fn batch_items(items: &[TokenItem], device: &Device) -> TextBatch {
        let n = items.len();
        let len = items.iter().map(|i| i.ids.len()).max().unwrap_or(0).max(1);
        let mut tokens = vec![PAD as i64; n * len];
        let mut last = vec![0f32; n * len];
        let mut decoder_inputs = vec![PAD as i64; n * (len + 1)];
        let mut targets = vec![PAD as i64; n * (len + 1)];
        for (row, item) in items.iter().enumerate() {
            let ids = &item.ids[..item.ids.len().min(len)];
            decoder_inputs[row * (len + 1)] = BOS as i64;
            for (t, &id) in ids.iter().enumerate() {
                tokens[row * len + t] = id as i64;
                decoder_inputs[row * (len + 1) + t + 1] = id as i64;
                targets[row * (len + 1) + t] = id as i64;
            }
            targets[row * (len + 1) + ids.len()] = EOS as i64;
            last[row * len + ids.len().saturating_sub(1)] = 1.0;
        }
        let int = |values: Vec<i64>, cols: usize| {
            Tensor::<2, Int>::from_data(TensorData::new(values, [n, cols]), device)
        };
        TextBatch {
            tokens: int(tokens, len),
            last: Tensor::from_data(TensorData::new(last, [n, len]), device),
            decoder_inputs: int(decoder_inputs, len + 1),
            targets: int(targets, len + 1),
        }
    }
}

impl Batcher<TokenItem, TextBatch> for TextBatcher {
    fn batch(&self, items: Vec<TokenItem>, device: &Device) -> TextBatch {
        Self::batch_items(&items, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tokens_round_trip() {
        let kind = TokenizerKind::Word;
        let tokens = kind.tokenize("Don't panic, it's only 42 (really)!");
        assert_eq!(
            tokens,
            [
                "don't", "panic", ",", "it's", "only", "42", "(", "really", ")", "!"
            ]
        );
        assert_eq!(
            kind.detokenize(&tokens),
            "don't panic, it's only 42 (really)!"
        );
        let chars = TokenizerKind::Char.tokenize("Hi, yo");
        assert_eq!(chars.len(), 6);
        assert_eq!(TokenizerKind::Char.detokenize(&chars), "Hi, yo");
    }

    #[test]
    fn vocabulary_caps_by_frequency_and_maps_unknowns() {
        let sentences = ["the cat sat", "the dog sat", "the end"];
        let vocab = Vocabulary::build(TokenizerKind::Word, &sentences, 6).unwrap();
        // "the" (3) and "sat" (2) are the most frequent; ties of 1 are dropped by the cap.
        assert_eq!(
            vocab.tokens,
            ["<pad>", "<s>", "</s>", "<unk>", "the", "sat"]
        );
        assert_eq!(vocab.encode("the cat sat"), [4, UNK, 5]);
        assert_eq!(vocab.decode(&[BOS, 4, UNK, 5, EOS, 4]), "the <unk> sat");
        assert!(Vocabulary::build(TokenizerKind::Word, &sentences, 4).is_err());
    }

    #[test]
    fn vocabulary_json_round_trip_and_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let vocab = Vocabulary::build(TokenizerKind::Char, &["abc", "abd"], 100).unwrap();
        let path = dir.path().join("vocab.json");
        vocab.save(&path).unwrap();
        let loaded = Vocabulary::load(&path).unwrap();
        assert_eq!(loaded, vocab);
        assert_eq!(loaded.id("a"), vocab.id("a"));
        std::fs::write(&path, "{\"kind\": \"word\",\n \"tokens\": [1, 2]}").unwrap();
        let error = Vocabulary::load(&path).unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
    }

    #[test]
    fn corpus_reads_fortune_files_and_line_files() {
        let dir = tempfile::tempdir().unwrap();
        let fortunes = dir.path().join("quotes");
        std::fs::write(
            &fortunes,
            "First  one,\nsecond line.\n%\nAnother.  Two here!\n%\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("quotes.dat"), [0u8, 159, 146]).unwrap();
        let entries = read_corpus(&fortunes).unwrap();
        assert_eq!(entries, ["First one, second line.", "Another. Two here!"]);
        // A folder reads files without an extension only (not the binary .dat index).
        assert_eq!(read_corpus(dir.path()).unwrap(), entries);
        let sentences = sentences_for_training(&entries, TokenizerKind::Word, 3, 10);
        assert_eq!(sentences, ["First one, second line.", "Two here!"]);

        let lines = dir.path().join("lines.txt");
        std::fs::write(&lines, "one\n\n  two  three \n").unwrap();
        assert_eq!(read_corpus(&lines).unwrap(), ["one", "two three"]);

        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, b"fine\nstill fine\n\xff\xfe\n").unwrap();
        let error = read_corpus(&bad).unwrap_err().to_string();
        assert!(
            error.contains("line 3") && error.contains("UTF-8"),
            "{error}"
        );
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "\n \n").unwrap();
        assert!(read_corpus(&empty).is_err());
        assert!(read_corpus(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn batch_pads_shifts_and_marks_last_tokens() {
        let device = Device::flex();
        let items = [TokenItem { ids: vec![7, 8, 9] }, TokenItem { ids: vec![5] }];
        let batch = TextBatcher::batch_items(&items, &device);
        let ints = |t: Tensor<2, Int>| t.into_data().try_to_vec_as::<i64>().unwrap();
        assert_eq!(ints(batch.tokens), [7, 8, 9, 5, 0, 0]);
        assert_eq!(ints(batch.decoder_inputs), [1, 7, 8, 9, 1, 5, 0, 0]);
        assert_eq!(ints(batch.targets), [7, 8, 9, 2, 5, 2, 0, 0]);
        assert_eq!(
            batch.last.into_data().try_to_vec_as::<f32>().unwrap(),
            [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
        );
    }

    #[test]
    fn split_is_seeded_and_disjoint() {
        let sentences: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
        let (train, test) = split_train_test(sentences.clone(), 0.25, 1).unwrap();
        assert_eq!((train.len(), test.len()), (15, 5));
        assert!(test.iter().all(|t| !train.contains(t)));
        assert_eq!(
            split_train_test(sentences.clone(), 0.25, 1).unwrap().1,
            test
        );
        assert!(split_train_test(sentences, 0.0, 1).is_err());
    }

    #[test]
    fn dataset_truncates_and_counts_unknowns() {
        let vocab = Vocabulary::build(TokenizerKind::Word, &["a b c d"], 6).unwrap();
        let data = TextDataset::new(&vocab, &["a b c d", "", "z"], 3);
        assert_eq!(data.len(), 2);
        assert_eq!(data.items()[0].ids.len(), 3);
        assert!((data.unknown_rate() - 2.0 / 4.0).abs() < 1e-12);
    }
}
