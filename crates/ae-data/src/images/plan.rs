//! How a loader orders and cuts a split into batches of one fixed size: [`BatchPlan`].

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// What happens to the rows left over after the last full batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialBatch {
    /// Left out of this epoch (training).
    Drop,
    /// Served in a batch padded with zero images to the full size (validation, evaluation).
    Pad,
}

/// How a loader orders and cuts a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// Rows of every batch.
    pub batch_size: usize,
    /// `Some(seed)`: a new permutation each epoch, drawn from `seed` and the epoch number;
    /// `None`: dataset order.
    pub shuffle: Option<u64>,
    /// What happens to the last partial batch.
    pub partial: PartialBatch,
    /// The number of the first epoch served (0-based), so that a resumed run continues the
    /// sequence of permutations.
    pub first_epoch: usize,
}

impl BatchPlan {
    /// Shuffled every epoch from `seed`, the last partial batch dropped: training.
    pub fn training(batch_size: usize, seed: u64) -> Self {
        Self {
            batch_size,
            shuffle: Some(seed),
            partial: PartialBatch::Drop,
            first_epoch: 0,
        }
    }

    /// In dataset order, the last partial batch padded: validation and evaluation.
    pub fn in_order(batch_size: usize) -> Self {
        Self {
            batch_size,
            shuffle: None,
            partial: PartialBatch::Pad,
            first_epoch: 0,
        }
    }

    /// Starts at epoch `first_epoch` (0-based).
    pub fn starting_at(mut self, first_epoch: usize) -> Self {
        self.first_epoch = first_epoch;
        self
    }

    /// The order of the rows in epoch `epoch` (0-based).
    pub fn order(&self, rows: usize, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..rows).collect();
        if let Some(seed) = self.shuffle {
            // One generator per epoch: epoch k's order does not depend on how many epochs ran.
            let epoch_seed = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            order.shuffle(&mut StdRng::seed_from_u64(epoch_seed));
        }
        order
    }

    /// Batches per epoch over `rows` rows.
    pub fn batches(&self, rows: usize) -> usize {
        let size = self.batch_size.max(1);
        match self.partial {
            PartialBatch::Drop => rows / size,
            PartialBatch::Pad => rows.div_ceil(size),
        }
    }

    /// Rows served per epoch over `rows` rows (dropped rows excluded, padding excluded).
    pub fn served(&self, rows: usize) -> usize {
        match self.partial {
            PartialBatch::Drop => self.batches(rows) * self.batch_size.max(1),
            PartialBatch::Pad => rows,
        }
    }
}
