//! Explicit ratings for collaborative filtering: the MovieLens file formats, a seeded train/test
//! split of the ratings, item vectors for item-based AutoRec, and a synthetic low-rank ratings
//! file in the ML-100K format for use without network.
//!
//! Formats (detected from each line's separator):
//! - ML-100K `u.data`: `user \t item \t rating \t timestamp`;
//! - ML-1M / ML-10M `ratings.dat`: `user::item::rating::timestamp`;
//! - a CSV `user,item,rating[,timestamp]` with or without a header (ML-latest `ratings.csv`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::error::{DataError, Result};

/// One observed rating, with users and items as dense indices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    /// Dense user index (`0..users`).
    pub user: usize,
    /// Dense item index (`0..items`).
    pub item: usize,
    /// The rating.
    pub value: f32,
}

/// A ratings file read into dense indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratings {
    /// The file's user ids, by dense index (ascending).
    pub user_ids: Vec<u64>,
    /// The file's item ids, by dense index (ascending).
    pub item_ids: Vec<u64>,
    /// The ratings, in file order.
    pub ratings: Vec<Rating>,
    /// Where they were read from.
    pub path: PathBuf,
}

fn csv_error(path: &Path, line: usize, column: Option<usize>, message: String) -> DataError {
    DataError::Csv {
        path: path.to_path_buf(),
        line: line as u64,
        column,
        message,
    }
}

/// Reads a MovieLens ratings file (`u.data`, `ratings.dat` or `ratings.csv`; see the module
/// documentation). Users and items are renumbered densely in ascending id order.
///
/// # Errors
/// When the file cannot be read or a line is malformed (the line and column are named), when a
/// (user, item) pair is rated twice, or when the file holds no rating.
pub fn read_ratings(path: &Path) -> Result<Ratings> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut raw: Vec<(u64, u64, f32)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = if line.contains("::") {
            line.split("::").collect()
        } else if line.contains('\t') {
            line.split('\t').collect()
        } else if line.contains(',') {
            line.split(',').collect()
        } else {
            return Err(csv_error(
                path,
                number,
                None,
                "expected `user<TAB>item<TAB>rating<TAB>time` (u.data), `user::item::rating::time` \
                 (ratings.dat) or `user,item,rating` (ratings.csv)"
                    .into(),
            ));
        };
        if fields.len() < 3 {
            return Err(csv_error(
                path,
                number,
                None,
                format!("{} fields, expected user, item, rating", fields.len()),
            ));
        }
        let id = |column: usize, what: &str| -> Result<u64> {
            fields[column].trim().parse().map_err(|_| {
                csv_error(
                    path,
                    number,
                    Some(column + 1),
                    format!("{what} id {:?} is not a whole number", fields[column]),
                )
            })
        };
        let user = match id(0, "user") {
            Ok(user) => user,
            // A CSV header on the first line.
            Err(_) if number == 1 && line.contains(',') => continue,
            Err(e) => return Err(e),
        };
        let item = id(1, "item")?;
        let value: f32 = fields[2]
            .trim()
            .parse()
            .ok()
            .filter(|v: &f32| v.is_finite())
            .ok_or_else(|| {
                csv_error(
                    path,
                    number,
                    Some(3),
                    format!("rating {:?} is not a number", fields[2]),
                )
            })?;
        raw.push((user, item, value));
    }
    if raw.is_empty() {
        return Err(DataError::InvalidArgument {
            what: "ratings file",
            message: format!("{} holds no ratings", path.display()),
        });
    }
    let dense = |ids: Vec<u64>| -> (Vec<u64>, BTreeMap<u64, usize>) {
        let map: BTreeMap<u64, usize> = ids.into_iter().map(|id| (id, 0)).collect();
        let sorted: Vec<u64> = map.keys().copied().collect();
        let map = sorted.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        (sorted, map)
    };
    let (user_ids, users) = dense(raw.iter().map(|r| r.0).collect());
    let (item_ids, items) = dense(raw.iter().map(|r| r.1).collect());
    let ratings: Vec<Rating> = raw
        .iter()
        .map(|&(u, i, value)| Rating {
            user: users[&u],
            item: items[&i],
            value,
        })
        .collect();
    let mut seen = std::collections::HashSet::with_capacity(ratings.len());
    for (r, &(u, i, _)) in ratings.iter().zip(&raw) {
        if !seen.insert((r.user, r.item)) {
            return Err(DataError::InvalidArgument {
                what: "ratings file",
                message: format!("{}: user {u} rates item {i} twice", path.display()),
            });
        }
    }
    Ok(Ratings {
        user_ids,
        item_ids,
        ratings,
        path: path.to_path_buf(),
    })
}

impl Ratings {
    /// Number of users.
    pub fn users(&self) -> usize {
        self.user_ids.len()
    }

    /// Number of items.
    pub fn items(&self) -> usize {
        self.item_ids.len()
    }

    /// Splits the ratings at random (seeded): `test_fraction` of them are held out.
    ///
    /// # Errors
    /// When the fraction is outside `(0, 1)`.
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(Vec<Rating>, Vec<Rating>)> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(DataError::InvalidArgument {
                what: "test fraction",
                message: format!("{test_fraction} is not between 0 and 1"),
            });
        }
        let mut order: Vec<usize> = (0..self.ratings.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let test_count = (self.ratings.len() as f64 * test_fraction).round() as usize;
        let pick = |idx: &[usize]| idx.iter().map(|&i| self.ratings[i]).collect::<Vec<_>>();
        Ok((pick(&order[test_count..]), pick(&order[..test_count])))
    }
}

/// Mean of the ratings' values.
pub fn global_mean(ratings: &[Rating]) -> f64 {
    ratings.iter().map(|r| r.value as f64).sum::<f64>() / ratings.len().max(1) as f64
}

/// Each item's mean rating in `ratings`, or `fallback` for an item without ratings.
pub fn item_means(ratings: &[Rating], items: usize, fallback: f64) -> Vec<f64> {
    let mut sum = vec![0.0; items];
    let mut count = vec![0usize; items];
    for r in ratings {
        sum[r.item] += r.value as f64;
        count[r.item] += 1;
    }
    sum.iter()
        .zip(&count)
        .map(|(&s, &c)| if c == 0 { fallback } else { s / c as f64 })
        .collect()
}

/// Root mean squared error of `predict(rating)` over `ratings`.
pub fn rmse(ratings: &[Rating], mut predict: impl FnMut(&Rating) -> f64) -> f64 {
    let sum: f64 = ratings
        .iter()
        .map(|r| (predict(r) - r.value as f64).powi(2))
        .sum();
    (sum / ratings.len().max(1) as f64).sqrt()
}

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

/// A synthetic ratings matrix: what [`write_synthetic_ratings`] draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyntheticRatings {
    /// Users.
    pub users: usize,
    /// Items.
    pub items: usize,
    /// Ratings to draw (distinct user-item pairs).
    pub ratings: usize,
    /// Rank of the user-item interaction.
    pub rank: usize,
    /// Standard deviation of the noise added before rounding.
    pub noise: f64,
}

impl Default for SyntheticRatings {
    /// The size of MovieLens-100K: 943 users, 1,682 items, 100,000 ratings; rank 5, noise 0.3.
    fn default() -> Self {
        Self {
            users: 943,
            items: 1682,
            ratings: 100_000,
            rank: 5,
            noise: 0.3,
        }
    }
}

fn normal(rng: &mut StdRng) -> f64 {
    // Box-Muller: two uniforms to one standard normal.
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Writes ratings drawn from a known low-rank model to `path` in the ML-100K `u.data` format
/// (1-based ids, tab-separated, a timestamp): `rating = round(clamp(3.5 + b_user + b_item +
/// u·v / sqrt(rank) + noise, 1, 5))` with user biases of std 0.3, item biases of std 0.5 and
/// standard-normal factors. Which pairs are rated follows a long-tailed item popularity (as in
/// MovieLens), and every user rates at least 5 items. It stands in for the real files, which
/// cannot be downloaded here; the loader reads those unchanged.
///
/// # Errors
/// When the sizes are impossible or the file cannot be written.
pub fn write_synthetic_ratings(path: &Path, spec: SyntheticRatings, seed: u64) -> Result<()> {
    let SyntheticRatings {
        users,
        items,
        ratings,
        rank,
        noise,
    } = spec;
    if users == 0 || items == 0 || rank == 0 || ratings < 5 * users || ratings > users * items {
        return Err(DataError::InvalidArgument {
            what: "synthetic ratings",
            message: format!(
                "{ratings} ratings of {users} users x {items} items (rank {rank}): need at least \
                 5 per user and at most one per pair"
            ),
        });
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let factors = |n: usize, rng: &mut StdRng| -> Vec<f64> {
        (0..n * rank).map(|_| normal(rng)).collect::<Vec<_>>()
    };
    let user_factors = factors(users, &mut rng);
    let item_factors = factors(items, &mut rng);
    let user_bias: Vec<f64> = (0..users).map(|_| 0.3 * normal(&mut rng)).collect();
    let item_bias: Vec<f64> = (0..items).map(|_| 0.5 * normal(&mut rng)).collect();
    // Item popularity ~ 1 / (rank + 10): a long tail, as in MovieLens.
    let mut popularity: Vec<usize> = (0..items).collect();
    popularity.shuffle(&mut rng);
    let weights: Vec<f64> = (0..items)
        .map(|i| 1.0 / (popularity[i] as f64 + 10.0))
        .collect();
    let total: f64 = weights.iter().sum();
    let cumulative: Vec<f64> = weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w / total;
            Some(*acc)
        })
        .collect();
    let draw_item = |rng: &mut StdRng| -> usize {
        let u: f64 = rng.random();
        cumulative.partition_point(|&c| c < u).min(items - 1)
    };
    let mut rated = std::collections::HashSet::with_capacity(ratings);
    let mut pairs = Vec::with_capacity(ratings);
    let mut add = |u: usize, rng: &mut StdRng, pairs: &mut Vec<(usize, usize)>| loop {
        let i = draw_item(rng);
        if rated.insert((u, i)) {
            pairs.push((u, i));
            break;
        }
    };
    for u in 0..users {
        for _ in 0..5 {
            add(u, &mut rng, &mut pairs);
        }
    }
    while pairs.len() < ratings {
        let u = rng.random_range(0..users);
        add(u, &mut rng, &mut pairs);
    }
    let scale = 1.0 / (rank as f64).sqrt();
    let mut text = String::with_capacity(ratings * 24);
    for (k, &(u, i)) in pairs.iter().enumerate() {
        let dot: f64 = (0..rank)
            .map(|r| user_factors[u * rank + r] * item_factors[i * rank + r])
            .sum();
        let score = 3.5 + user_bias[u] + item_bias[i] + dot * scale + noise * normal(&mut rng);
        let value = score.clamp(1.0, 5.0).round() as u8;
        let _ = writeln!(text, "{}\t{}\t{}\t{}", u + 1, i + 1, value, 874_965_758 + k);
    }
    crate::idx::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_the_three_formats_into_dense_indices() {
        let dir = tempfile::tempdir().unwrap();
        let ml100k = write(
            dir.path(),
            "u.data",
            "196\t242\t3\t881250949\n7\t242\t5\t1\n",
        );
        let ml1m = write(
            dir.path(),
            "ratings.dat",
            "196::242::3::881250949\n7::242::5::1\n",
        );
        let csv = write(
            dir.path(),
            "ratings.csv",
            "userId,movieId,rating,timestamp\n196,242,3.0,1\n7,242,5.0,1\n",
        );
        for path in [ml100k, ml1m, csv] {
            let ratings = read_ratings(&path).unwrap();
            assert_eq!(ratings.user_ids, [7, 196]);
            assert_eq!(ratings.item_ids, [242]);
            let first = ratings.ratings[0];
            assert_eq!((first.user, first.item, first.value), (1, 0, 3.0));
        }
    }

    #[test]
    fn malformed_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("1\t2\t3\t4\n1\tx\t3\t4\n", "line 2, column 2"),
            ("1\t2\t3\t4\n\n2\t2\tgood\t4\n", "line 3, column 3"),
            ("1\t2\t3\t4\n1 2 3 4\n", "line 2"),
            ("1\t2\n", "line 1"),
        ];
        for (text, expected) in cases {
            let path = write(dir.path(), "u.data", text);
            let error = read_ratings(&path).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let twice = write(dir.path(), "twice", "1\t2\t3\t4\n1\t2\t4\t5\n");
        assert!(
            read_ratings(&twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let empty = write(dir.path(), "empty", "\n");
        assert!(read_ratings(&empty).is_err());
    }

    #[test]
    fn split_is_seeded_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.data");
        let spec = SyntheticRatings {
            users: 30,
            items: 40,
            ratings: 400,
            rank: 2,
            noise: 0.1,
        };
        write_synthetic_ratings(&path, spec, 7).unwrap();
        let ratings = read_ratings(&path).unwrap();
        assert_eq!(ratings.ratings.len(), 400);
        assert_eq!(ratings.users(), 30);
        assert!(
            ratings
                .ratings
                .iter()
                .all(|r| (1.0..=5.0).contains(&r.value))
        );
        let (train, test) = ratings.split(0.1, 3).unwrap();
        assert_eq!((train.len(), test.len()), (360, 40));
        assert_eq!(ratings.split(0.1, 3).unwrap().1, test);
        assert_ne!(ratings.split(0.1, 4).unwrap().1, test);
        assert!(ratings.split(1.0, 3).is_err());
    }

    #[test]
    fn baselines_by_hand() {
        let r = |user, item, value| Rating { user, item, value };
        let train = [r(0, 0, 4.0), r(1, 0, 2.0), r(0, 1, 5.0)];
        assert!((global_mean(&train) - 11.0 / 3.0).abs() < 1e-12);
        assert_eq!(item_means(&train, 3, 3.5), [3.0, 5.0, 3.5]);
        let test = [r(1, 1, 4.0), r(1, 2, 2.5)];
        // Errors 1 and 1: RMSE 1.
        assert!((rmse(&test, |x| item_means(&train, 3, 3.5)[x.item]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn item_vectors_batch_with_masks() {
        let r = |user, item, value| Rating { user, item, value };
        let train = [r(0, 1, 4.0), r(2, 1, 2.0), r(1, 0, 5.0)];
        let test = [r(1, 1, 3.0)];
        let data = ItemRatingsDataset::new(3, 2, &train, &test);
        assert_eq!(data.len(), 1);
        let batch = RatingsBatcher { users: 3 }.batch(data.items().to_vec(), &Device::flex());
        let values = |t: Tensor<2>| t.into_data().try_to_vec_as::<f32>().unwrap();
        assert_eq!(values(batch.input), [4.0, 0.0, 2.0]);
        assert_eq!(values(batch.target), [0.0, 3.0, 0.0]);
        assert_eq!(values(batch.mask), [0.0, 1.0, 0.0]);
    }
}
