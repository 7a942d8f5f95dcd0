use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::vocabulary::Vocabulary;
use super::{BOS, EOS, PAD, UNK};
use crate::error::DataError;
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
