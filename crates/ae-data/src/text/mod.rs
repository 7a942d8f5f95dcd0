//! Text for sequence autoencoders: corpora (one sentence per line, or `fortune` files whose
//! entries are separated by lines holding `%`), character- and word-level tokenizers with a capped
//! vocabulary, and batching to padded `Tensor<2, Int>` with a mask.
//!
//! Token indices 0-3 are reserved in every [`Vocabulary`]: [`PAD`], [`BOS`] (start of sentence,
//! the decoder's first input), [`EOS`] (end of sentence, its last target) and [`UNK`] (a token
//! outside the vocabulary, or a word dropped from the decoder's input).

mod corpus;
mod dataset;
mod vocabulary;

pub use corpus::{read_corpus, sentences_for_training, split_sentences, split_train_test};
pub use dataset::{TextBatch, TextBatcher, TextDataset, TokenItem};
pub use vocabulary::{TokenizerKind, Vocabulary};

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

#[cfg(test)]
mod tests;
