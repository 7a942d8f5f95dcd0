use super::file::CsvTable;
use crate::error::{DataError, Result};

/// How one column becomes features.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnEncoding {
    /// `(x - mean) / std` (std 1 for a constant column).
    Numeric {
        /// Training mean.
        mean: f64,
        /// Training standard deviation.
        std: f64,
    },
    /// One feature per category seen in training (an unseen category encodes as all zeros).
    Categorical {
        /// The categories, sorted.
        categories: Vec<String>,
    },
}

/// The most features a row may have (the width of the dense input layer built on them).
pub const MAX_FEATURES: usize = 1 << 16;
/// The most feature values a table may become (1 GiB of `f32`).
pub const MAX_FEATURE_VALUES: usize = 1 << 28;

/// The mean and standard deviation of `values` (finite, not empty), computed on values scaled
/// by their largest magnitude so that neither the sum nor the squares overflow (values near
/// 1e200 would make a plain variance infinite and every standardised value 0); 1 for a constant
/// column's deviation.
fn mean_and_std(values: &[f64]) -> (f64, f64) {
    let scale = values.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if scale == 0.0 {
        return (0.0, 1.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|x| x / scale).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|x| (x / scale - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = var.sqrt() * scale;
    (
        mean * scale,
        if std > 0.0 && std.is_finite() {
            std
        } else {
            1.0
        },
    )
}

/// Turns table rows into feature vectors; fitted on training rows, applied to any rows.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularEncoder {
    /// `(column index, encoding)` of every feature column, in order.
    pub columns: Vec<(usize, ColumnEncoding)>,
}

/// The values other than numbers in column `c` of `rows`, quoted, when there are at most three
/// distinct ones and the column holds numbers besides: missing-value markers, not categories.
fn missing_markers(
    table: &CsvTable,
    rows: &[usize],
    c: usize,
    parsed: &[Option<f64>],
) -> Option<String> {
    let mut markers: Vec<&str> = Vec::new();
    for (&r, value) in rows.iter().zip(parsed) {
        let field = table.field(r, c);
        if value.is_none() && !markers.contains(&field) {
            // Words of a category (`ground`, `basement` beside floor numbers) are no markers.
            if !MISSING_MARKERS.contains(&field.to_ascii_lowercase().as_str()) {
                return None;
            }
            markers.push(field);
        }
    }
    let has_numbers = parsed.iter().any(Option::is_some);
    (has_numbers && !markers.is_empty()).then(|| {
        markers
            .iter()
            .map(|m| format!("{m:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// How tables mark a missing value (compared in lower case): an empty field, `?` (the UCI
/// repository's), `NA`, `NaN`, `null`, ...
const MISSING_MARKERS: [&str; 10] = [
    "", "?", "na", "n/a", "nan", "null", "none", "-", ".", "missing",
];

/// The first row of the file (the training rows are shuffled) where column `c` holds no
/// finite number.
fn first_row_without_a_number(table: &CsvTable, c: usize) -> usize {
    (0..table.len())
        .find(|&r| {
            table
                .field(r, c)
                .parse::<f64>()
                .map_or(true, |v| !v.is_finite())
        })
        .unwrap_or(0)
}

impl TabularEncoder {
    /// Fits on `rows` of `table`: every column but `label_column` is numeric if all its training
    /// values parse as finite numbers, categorical if most of them do not.
    ///
    /// # Errors
    /// [`DataError::Csv`] naming the line and column of a value that is not a finite number in
    /// a column whose values mostly are (a typo or a missing-value marker, which would
    /// otherwise turn the whole column into categories).
    pub fn fit(table: &CsvTable, rows: &[usize], label_column: usize) -> Result<Self> {
        let number = |text: &str| text.parse::<f64>().ok().filter(|v| v.is_finite());
        let mut columns = Vec::new();
        for c in (0..table.columns.len()).filter(|&c| c != label_column) {
            let parsed: Vec<Option<f64>> =
                rows.iter().map(|&r| number(table.field(r, c))).collect();
            let numbers = parsed.iter().flatten().count();
            let encoding = if numbers == parsed.len() && numbers > 0 {
                let v: Vec<f64> = parsed.into_iter().flatten().collect();
                let (mean, std) = mean_and_std(&v);
                ColumnEncoding::Numeric { mean, std }
            } else if 2 * numbers >= parsed.len() && numbers > 0 {
                let row = first_row_without_a_number(table, c);
                return Err(DataError::Csv {
                    path: table.path.clone(),
                    line: table.lines[row],
                    column: Some(c + 1),
                    message: format!(
                        "{:?} is not a finite number, but {numbers} of the {} training values of \
                         column `{}` are: fix or drop the rows like this one",
                        table.field(row, c),
                        rows.len(),
                        table.columns[c]
                    ),
                });
            } else if let Some(markers) = missing_markers(table, rows, c, &parsed) {
                // Numbers with a marker or two in most rows (`?`, `NA`, ``): one-hot over
                // every distinct number would be a silent misreading of a numeric column.
                return Err(DataError::Csv {
                    path: table.path.clone(),
                    line: table.lines[first_row_without_a_number(table, c)],
                    column: Some(c + 1),
                    message: format!(
                        "column `{}` holds numbers in {numbers} of its {} training rows and \
                         missing-value markers ({markers}) in the others, the first on this \
                         line: fill them in, or drop the column or those rows",
                        table.columns[c],
                        rows.len()
                    ),
                });
            } else {
                let mut categories: Vec<String> = rows
                    .iter()
                    .map(|&r| table.field(r, c).to_string())
                    .collect();
                categories.sort();
                categories.dedup();
                ColumnEncoding::Categorical { categories }
            };
            columns.push((c, encoding));
        }
        let encoder = Self { columns };
        encoder.plan(table, rows.len())?;
        Ok(encoder)
    }

    /// Checks, before anything is allocated, that `rows` rows of features fit
    /// [`MAX_FEATURE_VALUES`], naming the widest one-hot columns when they do not.
    ///
    /// # Errors
    /// [`DataError::TooLargeToPlan`] with the sizes and what to do.
    pub fn plan(&self, table: &CsvTable, rows: usize) -> Result<()> {
        let width = self.width();
        let values = rows.saturating_mul(width);
        if width <= MAX_FEATURES && values <= MAX_FEATURE_VALUES {
            return Ok(());
        }
        let mut widest: Vec<(usize, &str)> = self
            .columns
            .iter()
            .filter_map(|(c, e)| match e {
                ColumnEncoding::Categorical { categories } => {
                    Some((categories.len(), table.columns[*c].as_str()))
                }
                ColumnEncoding::Numeric { .. } => None,
            })
            .collect();
        widest.sort_by_key(|w| std::cmp::Reverse(w.0));
        let named: Vec<String> = widest
            .iter()
            .take(3)
            .map(|(n, name)| format!("`{name}` {n} categories"))
            .collect();
        Err(DataError::TooLargeToPlan {
            what: "the feature table",
            plan: format!(
                "{rows} rows x {width} features ({} numeric and one-hot columns{}) would need {:.1} \
                 GB as f32 (the limit is {MAX_FEATURES} features and {:.1} GB)",
                self.columns.len(),
                if named.is_empty() {
                    String::new()
                } else {
                    format!("; widest: {}", named.join(", "))
                },
                values as f64 * 4.0 / 1e9,
                MAX_FEATURE_VALUES as f64 * 4.0 / 1e9
            ),
            remedy: format!(
                "{}: drop identifier-like columns (a new value on every row) or bucket them, or \
                 use fewer rows",
                table.path.display()
            ),
        })
    }

    /// Features per row.
    pub fn width(&self) -> usize {
        self.columns
            .iter()
            .map(|(_, e)| match e {
                ColumnEncoding::Numeric { .. } => 1,
                ColumnEncoding::Categorical { categories } => categories.len(),
            })
            .sum()
    }

    /// Encodes `rows` of `table`; a non-number in a numeric column is an error naming its line
    /// and column.
    pub fn transform(&self, table: &CsvTable, rows: &[usize]) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(rows.len() * self.width());
        for &r in rows {
            for (c, encoding) in &self.columns {
                let field = table.field(r, *c);
                match encoding {
                    ColumnEncoding::Numeric { mean, std } => {
                        let x = field.parse::<f64>().ok().filter(|x| x.is_finite());
                        // Divided first: `x - mean` overflows for values near f64's range.
                        let scaled = x.map(|x| (x / std - mean / std) as f32);
                        let scaled =
                            scaled
                                .filter(|v| v.is_finite())
                                .ok_or_else(|| DataError::Csv {
                                    path: table.path.clone(),
                                    line: table.lines[r],
                                    column: Some(c + 1),
                                    message: format!(
                                        "{field:?} in numeric column `{}` {}: fix or drop that row",
                                        table.columns[*c],
                                        if x.is_none() {
                                            "is not a finite number".to_string()
                                        } else {
                                            format!(
                                                "is too far from the column's training values \
                                             (mean {mean:.4e}, std {std:.4e}) for f32"
                                            )
                                        }
                                    ),
                                })?;
                        out.push(scaled);
                    }
                    ColumnEncoding::Categorical { categories } => {
                        let hit = categories.binary_search_by(|c| c.as_str().cmp(field)).ok();
                        out.extend(
                            (0..categories.len()).map(|i| f32::from(u8::from(hit == Some(i)))),
                        );
                    }
                }
            }
        }
        Ok(out)
    }
}
