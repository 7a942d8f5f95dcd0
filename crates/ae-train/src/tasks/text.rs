//! Using a trained sentence autoencoder: greedy-decoding evaluation and nearest neighbours in
//! code space. (Training: `fit` with `TextDataset` splits.)

use burn::tensor::Device;
use serde::Serialize;

use std::path::Path;

use ae_data::text::{EOS, PAD, TextBatcher, TextDataset, TokenItem, Vocabulary};
use ae_models::{SavedModel, TextAutoencoder};

use crate::error::{Result, TrainError};
use crate::eval::{int_values, values};

/// The vocabulary file `vocab.json` of a sentence model's folder.
pub const VOCAB_FILE: &str = "vocab.json";

/// Loads a sentence model's folder (`config.json`, `model.bpk`, [`VOCAB_FILE`]), refusing a
/// vocabulary that is not the model's: its token ids would index past the model's embeddings.
///
/// # Errors
/// When a file cannot be loaded, or the vocabulary's size is not the model's.
pub fn load_text_model(dir: &Path, device: &Device) -> Result<(TextAutoencoder, Vocabulary)> {
    // The model first: a folder of another kind of model says so, not "no vocab.json".
    let model = TextAutoencoder::load(dir, device)?;
    let vocabulary = Vocabulary::load(&dir.join(VOCAB_FILE))?;
    let expected = model.config().vocab_size;
    if vocabulary.len() != expected {
        return Err(TrainError::InvalidArgument {
            what: "--model",
            message: format!(
                "{}: {VOCAB_FILE} holds {} tokens but the model was built for {expected}: the two \
                 files come from different runs; use a folder written by one run",
                dir.display(),
                vocabulary.len()
            ),
        });
    }
    if let Some(expected) = &model.config().vocab_checksum
        && *expected != vocabulary.checksum()
    {
        return Err(TrainError::InvalidArgument {
            what: "--model",
            message: format!(
                "{}: {VOCAB_FILE} holds other tokens than the model was trained with (as many, \
                 in another order or others): the two files come from different runs; use a \
                 folder written by one run",
                dir.display()
            ),
        });
    }
    Ok((model, vocabulary))
}

/// How well a sentence autoencoder reconstructs held-out sentences.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TextReport {
    /// Sentences scored.
    pub sentences: usize,
    /// Target tokens scored (each sentence's tokens and its end token).
    pub tokens: usize,
    /// Mean cross-entropy per target token under teacher forcing, in nats.
    pub cross_entropy: f64,
    /// `exp(cross_entropy)`.
    pub perplexity: f64,
    /// Share of target tokens predicted right under teacher forcing.
    pub teacher_forced_accuracy: f64,
    /// Share of target tokens right at their position in the greedy reconstruction (the
    /// model's output with nothing but the code to go on).
    pub greedy_accuracy: f64,
    /// Share of sentences reconstructed exactly (greedy).
    pub exact_sentences: f64,
}

/// Scores `model` on `data`: cross-entropy, perplexity and accuracy with teacher forcing, and
/// token accuracy and exact matches of the greedy reconstruction.
///
/// # Errors
/// When tensors cannot be read back from the device.
pub fn evaluate_text(
    model: &TextAutoencoder,
    data: &TextDataset,
    batch_size: usize,
    device: &Device,
) -> Result<TextReport> {
    let (mut nll, mut tokens, mut forced_right, mut greedy_right, mut exact) =
        (0.0f64, 0usize, 0usize, 0usize, 0usize);
    for items in data.items().chunks(batch_size.max(1)) {
        let batch = TextBatcher::batch_items(items, device);
        let max_len = items.iter().map(|i| i.ids.len()).max().unwrap_or(0);
        let output = model.forward(
            batch.tokens.clone(),
            batch.last.clone(),
            batch.decoder_inputs,
            batch.targets.clone(),
        );
        let count: usize = items.iter().map(|i| i.ids.len() + 1).sum();
        nll += values(output.loss)?[0] as f64 * count as f64;
        tokens += count;
        let predicted = int_values(output.logits.argmax(2))?;
        let targets = int_values(batch.targets)?;
        forced_right += predicted
            .iter()
            .zip(&targets)
            .filter(|(p, t)| **t != PAD as i64 && p == t)
            .count();
        let greedy = model.reconstruct(batch.tokens, batch.last, max_len)?;
        for (item, decoded) in items.iter().zip(&greedy) {
            let (right, all) = greedy_match(item, decoded);
            greedy_right += right;
            exact += usize::from(right == all && decoded.len() == item.ids.len());
        }
    }
    let n = tokens.max(1) as f64;
    Ok(TextReport {
        sentences: data.items().len(),
        tokens,
        cross_entropy: nll / n,
        perplexity: (nll / n).exp(),
        teacher_forced_accuracy: forced_right as f64 / n,
        greedy_accuracy: greedy_right as f64 / n,
        exact_sentences: exact as f64 / data.items().len().max(1) as f64,
    })
}

/// Positions where the greedy output (with its end token) matches the sentence (with its end
/// token), and the number of positions.
fn greedy_match(item: &TokenItem, decoded: &[usize]) -> (usize, usize) {
    let target = item.ids.iter().copied().chain([EOS]);
    let predicted = decoded.iter().copied().chain([EOS]);
    let right = target
        .clone()
        .zip(predicted)
        .filter(|(t, p)| t == p)
        .count();
    (right, item.ids.len() + 1)
}

/// The codes of every sentence of `data`, row after row (`len * latent_dim` values).
///
/// # Errors
/// When tensors cannot be read back from the device.
pub fn encode_sentences(
    model: &TextAutoencoder,
    data: &TextDataset,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<f32>> {
    let mut codes = Vec::new();
    for items in data.items().chunks(batch_size.max(1)) {
        let batch = TextBatcher::batch_items(items, device);
        codes.extend(values(model.encode(batch.tokens, batch.last))?);
    }
    Ok(codes)
}

/// The `k` rows of `codes` (`dim` values each) closest to `query` by cosine similarity, best
/// first, with their similarity. Both sides are compared after subtracting the mean row of
/// `codes`: codes share a large common component, which would otherwise make every pair look
/// alike.
pub fn nearest_neighbours(codes: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<(usize, f32)> {
    let dim = dim.max(1);
    let rows = (codes.len() / dim).max(1);
    let mut mean = vec![0f32; dim];
    for row in codes.chunks(dim) {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += x / rows as f32;
        }
    }
    let centred = |v: &[f32]| -> Vec<f32> { v.iter().zip(&mean).map(|(x, m)| x - m).collect() };
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let query = centred(query);
    let query_norm = norm(&query);
    let mut scored: Vec<(usize, f32)> = codes
        .chunks(dim)
        .enumerate()
        .map(|(i, row)| {
            let row = centred(row);
            let dot: f32 = row.iter().zip(&query).map(|(a, b)| a * b).sum();
            (i, dot / (norm(&row) * query_norm))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_tokens_agree_between_data_and_model() {
        use ae_data::text as data;
        use ae_models::text as model;
        assert_eq!(
            [data::PAD, data::BOS, data::EOS, data::UNK],
            [model::PAD, model::BOS, model::EOS, model::UNK]
        );
    }

    #[test]
    fn a_vocabulary_of_another_run_is_refused_even_of_the_same_size() {
        use ae_data::text::TokenizerKind;
        use ae_models::TextAutoencoderConfig;
        let device = Device::flex();
        let dir = tempfile::tempdir().unwrap();
        let tokens = |words: &[&str]| {
            let all = ae_data::text::SPECIAL_TOKENS
                .iter()
                .chain(words)
                .map(|t| t.to_string())
                .collect();
            Vocabulary::from_tokens(TokenizerKind::Word, all)
        };
        let vocabulary = tokens(&["cat", "dog", "sat"]);
        let model = TextAutoencoderConfig::new(vocabulary.len())
            .with_embed_dim(4)
            .with_hidden_dim(4)
            .with_latent_dim(2)
            .with_vocab_checksum(Some(vocabulary.checksum()))
            .try_init(&device)
            .unwrap();
        model.save(dir.path()).unwrap();
        vocabulary.save(&dir.path().join(VOCAB_FILE)).unwrap();
        assert!(load_text_model(dir.path(), &device).is_ok());
        // The same number of tokens in another order: every id would mean another word.
        tokens(&["dog", "cat", "sat"])
            .save(&dir.path().join(VOCAB_FILE))
            .unwrap();
        let err = load_text_model(dir.path(), &device)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("holds other tokens"), "{err}");
    }

    #[test]
    fn greedy_match_counts_positions_and_the_end_token() {
        let item = TokenItem { ids: vec![5, 6, 7] };
        assert_eq!(greedy_match(&item, &[5, 6, 7]), (4, 4));
        assert_eq!(greedy_match(&item, &[5, 9, 7]), (3, 4));
        // Stopping one token early misses the last token and the end token.
        assert_eq!(greedy_match(&item, &[5, 6]), (2, 4));
        assert_eq!(greedy_match(&item, &[5, 6, 7, 8]), (3, 4));
    }

    #[test]
    fn nearest_neighbours_by_cosine() {
        // Rows sum to zero, so the mean row is zero and centring changes nothing.
        let codes = [1.0, 0.0, 0.0, 1.0, 0.0, -1.0, -1.0, 0.0];
        let found = nearest_neighbours(&codes, 2, &[2.0, 0.1], 3);
        let order: Vec<usize> = found.iter().map(|f| f.0).collect();
        assert_eq!(order, [0, 1, 2]);
        assert!((found[0].1 - 2.0 / (4.01f32).sqrt()).abs() < 1e-6);
        // A shared offset does not change the answer.
        let shifted: Vec<f32> = codes.iter().map(|x| x + 10.0).collect();
        let again = nearest_neighbours(&shifted, 2, &[12.0, 10.1], 3);
        assert_eq!(again.iter().map(|f| f.0).collect::<Vec<_>>(), order);
    }
}
