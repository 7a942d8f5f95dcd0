//! Explicit ratings for collaborative filtering: the MovieLens file formats, a seeded train/test
//! split of the ratings, item vectors for item-based AutoRec, and a synthetic low-rank ratings
//! file in the ML-100K format for use without network.
//!
//! Formats (detected from each line's separator):
//! - ML-100K `u.data`: `user \t item \t rating \t timestamp`;
//! - ML-1M / ML-10M `ratings.dat`: `user::item::rating::timestamp`;
//! - a CSV `user,item,rating[,timestamp]` with or without a header (ML-latest `ratings.csv`).

mod baselines;
mod dataset;
mod file;
mod synthetic;

pub use baselines::{global_mean, item_means, rmse};
pub use dataset::{ItemRatings, ItemRatingsDataset, RatingsBatch, RatingsBatcher};
pub use file::{MAX_RATING, Rating, Ratings, read_ratings};
pub use synthetic::{SyntheticRatings, write_synthetic_ratings};

#[cfg(test)]
mod tests;
