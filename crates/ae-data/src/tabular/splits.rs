use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::dataset::VectorDataset;
use super::encoder::TabularEncoder;
use super::file::CsvTable;
use crate::error::{DataError, Result};
/// A labelled table split for anomaly detection: the encoder is fitted on normal training rows.
#[derive(Debug, Clone)]
pub struct AnomalySplits {
    /// Normal training rows (label 0).
    pub train: VectorDataset,
    /// Held-out normal rows, for the threshold (label 0).
    pub valid: VectorDataset,
    /// Test rows, normal (0) and anomalous (1).
    pub test: VectorDataset,
    /// The fitted encoder.
    pub encoder: TabularEncoder,
    /// The original label of each test row.
    pub test_labels: Vec<String>,
}

/// The most frequent labels of `column`, quoted, with their counts (at most five).
fn labels_found(table: &CsvTable, column: usize) -> String {
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for row in 0..table.len() {
        *counts.entry(table.field(row, column)).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = counts
        .iter()
        .take(5)
        .map(|(label, n)| {
            let short: String = label.chars().take(40).collect();
            format!("{short:?} ({n} row{})", if *n == 1 { "" } else { "s" })
        })
        .collect();
    let more = counts.len().saturating_sub(5);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Splits a labelled table for anomaly detection: rows whose `label_column` equals
/// `normal_label` are normal; `test_fraction` of all rows (seeded) are the test set; the rest's
/// normal rows train (less `valid_fraction` of them, held out).
pub fn anomaly_splits(
    table: &CsvTable,
    label_column: usize,
    normal_label: &str,
    test_fraction: f64,
    valid_fraction: f64,
    seed: u64,
) -> Result<AnomalySplits> {
    if label_column >= table.columns.len() {
        return Err(DataError::InvalidArgument {
            what: "label column",
            message: format!(
                "{label_column} but {} has {} columns",
                table.path.display(),
                table.columns.len()
            ),
        });
    }
    let mut order: Vec<usize> = (0..table.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let n_test = ((order.len() as f64) * test_fraction).round() as usize;
    let (test_rows, rest) = order.split_at(n_test.min(order.len()));
    let normal: Vec<usize> = rest
        .iter()
        .copied()
        .filter(|&r| table.field(r, label_column) == normal_label)
        .collect();
    let n_valid = ((normal.len() as f64) * valid_fraction).round() as usize;
    let (valid_rows, train_rows) = normal.split_at(n_valid.min(normal.len()));
    if !(0..table.len()).any(|r| table.field(r, label_column) == normal_label) {
        return Err(DataError::InvalidArgument {
            what: "normal label",
            message: format!(
                "no row of {} has `{normal_label}` in its label column (column {}, `{}`, of {}); \
                 its labels are {}: name the normal one (--normal-label), or the label column \
                 (--label-column; a file of other separators than commas reads as one column)",
                table.path.display(),
                label_column,
                table.columns[label_column],
                table.columns.len(),
                labels_found(table, label_column)
            ),
        });
    }
    if train_rows.is_empty() || valid_rows.is_empty() || test_rows.is_empty() {
        return Err(DataError::InvalidArgument {
            what: "anomaly split",
            message: format!(
                "{} rows, {} normal (`{normal_label}`) outside the test set: too few to train, hold out and test",
                table.len(),
                normal.len()
            ),
        });
    }
    let encoder = TabularEncoder::fit(table, train_rows, label_column)?;
    let dim = encoder.width();
    if dim == 0 {
        return Err(DataError::InvalidArgument {
            what: "table",
            message: format!(
                "{} has no column besides the label (column {label_column}): nothing to score \
                 rows by",
                table.path.display()
            ),
        });
    }
    let make = |rows: &[usize]| -> Result<VectorDataset> {
        let labels = rows
            .iter()
            .map(|&r| u32::from(table.field(r, label_column) != normal_label))
            .collect();
        VectorDataset::new(dim, encoder.transform(table, rows)?, Some(labels))
    };
    Ok(AnomalySplits {
        train: make(train_rows)?,
        valid: make(valid_rows)?,
        test: make(test_rows)?,
        test_labels: test_rows
            .iter()
            .map(|&r| table.field(r, label_column).to_string())
            .collect(),
        encoder,
    })
}
