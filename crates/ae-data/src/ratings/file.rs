use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::error::{DataError, Result};
/// The largest rating value accepted (MovieLens uses 0.5 to 5; larger scales up to 100 work).
pub const MAX_RATING: f32 = 100.0;

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
    let text = ae_io::read_to_string(path, ae_io::Limit::data())?;
    let mut raw: Vec<(u64, u64, f32)> = Vec::new();
    // The line each rating came from, to name both lines of a pair rated twice.
    let mut lines: Vec<usize> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let separator = if line.contains("::") {
            "::"
        } else if line.contains('\t') {
            "\t"
        } else if line.contains(',') {
            ","
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
        // The four fields of the formats; later ones (a title) are not read, nor split: a line
        // of millions of separators is not cut into millions of fields.
        let fields: Vec<&str> = line.splitn(5, separator).take(4).collect();
        if fields.len() < 3 {
            return Err(csv_error(
                path,
                number,
                None,
                format!(
                    "{} fields, expected user, item, rating and an optional time",
                    fields.len()
                ),
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
        // A header on the first line (`userId,movieId,rating,timestamp`): no field of it is a
        // number. A first line with a bad id (`-1`, `1.0`) is an error as on any other line.
        if number == 1 && fields.iter().all(|f| f.trim().parse::<f64>().is_err()) {
            continue;
        }
        let user = id(0, "user")?;
        let item = id(1, "item")?;
        let value: f32 = fields[2]
            .trim()
            .parse()
            .ok()
            .filter(|v: &f32| v.is_finite() && *v > 0.0 && *v <= MAX_RATING)
            .ok_or_else(|| {
                csv_error(
                    path,
                    number,
                    Some(3),
                    format!(
                        "rating {:?} is not a number in (0, {MAX_RATING}] (0 means \"not rated\" \
                         to AutoRec, so a file lists observed ratings only)",
                        fields[2]
                    ),
                )
            })?;
        raw.push((user, item, value));
        lines.push(number);
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
    let mut seen = std::collections::HashMap::with_capacity(ratings.len());
    for ((r, &(u, i, _)), &line) in ratings.iter().zip(&raw).zip(&lines) {
        if let Some(first) = seen.insert((r.user, r.item), line) {
            return Err(csv_error(
                path,
                line,
                None,
                format!(
                    "user {u} rates item {i} twice (line {first} too): keep one of the two \
                     lines"
                ),
            ));
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
