//! Tabular data: CSV files of numeric and categorical columns with a label column, encoded for
//! autoencoders (standardised numbers, one-hot categories, fitted on the training rows only), and
//! the KDD Cup 1999 intrusion-detection format (41 features and a label, no header).

mod dataset;
mod encoder;
mod file;
mod kdd;
mod splits;

pub use dataset::{VectorBatcher, VectorDataset, VectorItem};
pub use encoder::{ColumnEncoding, MAX_FEATURE_VALUES, MAX_FEATURES, TabularEncoder};
pub use file::{CsvTable, MAX_LINE_BYTES, read_csv};
pub use kdd::{KDD_FEATURES, KDD_NORMAL, write_synthetic_kdd};
pub use splits::{AnomalySplits, anomaly_splits};

#[cfg(test)]
mod tests;
