use std::fmt::Write as _;
use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::error::{DataError, Result};
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
