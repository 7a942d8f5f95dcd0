use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Tensor, TensorData};

use super::file::Rating;
use crate::error::DataError;
/// One item's ratings: the observed ones fed to the model, and the ones it is scored on.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRatings {
    /// Dense item index.
    pub item: usize,
    /// `(user, rating)` pairs the model sees.
    pub input: Vec<(usize, f32)>,
    /// `(user, rating)` pairs the model's output is scored on.
    pub target: Vec<(usize, f32)>,
}

/// Item vectors for item-based AutoRec: one item per element, over `users` users.
#[derive(Debug, Clone)]
pub struct ItemRatingsDataset {
    users: usize,
    items: Vec<ItemRatings>,
}

impl ItemRatingsDataset {
    /// Items rated in `target`, each with its ratings from `input` as the model's input. For
    /// training pass the training ratings twice; for testing, the training ratings then the test
    /// ratings.
    pub fn new(users: usize, items: usize, input: &[Rating], target: &[Rating]) -> Self {
        let mut inputs = vec![Vec::new(); items];
        let mut targets = vec![Vec::new(); items];
        for r in input {
            inputs[r.item].push((r.user, r.value));
        }
        for r in target {
            targets[r.item].push((r.user, r.value));
        }
        let items = inputs
            .into_iter()
            .zip(targets)
            .enumerate()
            .filter(|(_, (_, t))| !t.is_empty())
            .map(|(item, (input, target))| ItemRatings {
                item,
                input,
                target,
            })
            .collect();
        Self { users, items }
    }

    /// Number of users (the length of every vector).
    pub fn users(&self) -> usize {
        self.users
    }

    /// The items.
    pub fn items(&self) -> &[ItemRatings] {
        &self.items
    }
}

impl Dataset<ItemRatings> for ItemRatingsDataset {
    fn get(&self, index: usize) -> std::result::Result<ItemRatings, DatasetError> {
        self.items
            .get(index)
            .cloned()
            .ok_or_else(|| DataError::past_the_end("item index", index, self.items.len(), "items"))
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// A batch of item vectors: dense ratings with zeros where nothing is observed.
#[derive(Debug, Clone)]
pub struct RatingsBatch {
    /// The observed ratings fed to the model (0 where unobserved).
    ///
    /// # Shapes
    /// `[N, users]`
    pub input: Tensor<2>,
    /// The ratings the output is scored on (0 where unobserved).
    ///
    /// # Shapes
    /// `[N, users]`
    pub target: Tensor<2>,
    /// One where `target` holds a rating, zero elsewhere.
    ///
    /// # Shapes
    /// `[N, users]`
    pub mask: Tensor<2>,
}

/// Turns [`ItemRatings`] into a [`RatingsBatch`] of `users` columns.
#[derive(Debug, Clone, Copy)]
pub struct RatingsBatcher {
    /// Length of each vector.
    pub users: usize,
}

impl Batcher<ItemRatings, RatingsBatch> for RatingsBatcher {
    fn batch(&self, items: Vec<ItemRatings>, device: &Device) -> RatingsBatch {
        let (n, users) = (items.len(), self.users);
        let mut input = vec![0f32; n * users];
        let mut target = vec![0f32; n * users];
        let mut mask = vec![0f32; n * users];
        for (row, item) in items.iter().enumerate() {
            for &(user, value) in &item.input {
                input[row * users + user] = value;
            }
            for &(user, value) in &item.target {
                target[row * users + user] = value;
                mask[row * users + user] = 1.0;
            }
        }
        let tensor = |values| Tensor::from_data(TensorData::new(values, [n, users]), device);
        RatingsBatch {
            input: tensor(input),
            target: tensor(target),
            mask: tensor(mask),
        }
    }
}
