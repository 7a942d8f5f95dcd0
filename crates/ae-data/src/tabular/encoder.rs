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

/// Turns table rows into feature vectors; fitted on training rows, applied to any rows.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularEncoder {
    /// `(column index, encoding)` of every feature column, in order.
    pub columns: Vec<(usize, ColumnEncoding)>,
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
                rows.iter().map(|&r| number(&table.rows[r][c])).collect();
            let numbers = parsed.iter().flatten().count();
            let encoding = if numbers == parsed.len() && numbers > 0 {
                let v: Vec<f64> = parsed.into_iter().flatten().collect();
                let n = v.len() as f64;
                let mean = v.iter().sum::<f64>() / n;
                let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                let std = if var > 0.0 { var.sqrt() } else { 1.0 };
                ColumnEncoding::Numeric { mean, std }
            } else if 2 * numbers >= parsed.len() && numbers > 0 {
                let (k, _) = parsed
                    .iter()
                    .enumerate()
                    .find(|(_, v)| v.is_none())
                    .unwrap_or((0, &None));
                let row = rows[k];
                return Err(DataError::Csv {
                    path: table.path.clone(),
                    line: table.lines.get(row).copied().unwrap_or(0),
                    column: Some(c + 1),
                    message: format!(
                        "{:?} is not a finite number, but {numbers} of the {} training values of \
                         column `{}` are: fix or drop that row",
                        table.rows[row][c],
                        rows.len(),
                        table.columns[c]
                    ),
                });
            } else {
                let mut categories: Vec<String> =
                    rows.iter().map(|&r| table.rows[r][c].clone()).collect();
                categories.sort();
                categories.dedup();
                ColumnEncoding::Categorical { categories }
            };
            columns.push((c, encoding));
        }
        Ok(Self { columns })
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
                let field = &table.rows[r][*c];
                match encoding {
                    ColumnEncoding::Numeric { mean, std } => {
                        let x: f64 = field.parse().map_err(|_| DataError::Csv {
                            path: table.path.clone(),
                            line: table.lines[r],
                            column: Some(c + 1),
                            message: format!(
                                "`{field}` in numeric column `{}` is not a number",
                                table.columns[*c]
                            ),
                        })?;
                        out.push(((x - mean) / std) as f32);
                    }
                    ColumnEncoding::Categorical { categories } => {
                        let hit = categories.binary_search(field).ok();
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
