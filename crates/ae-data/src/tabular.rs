//! Tabular data: CSV files of numeric and categorical columns with a label column, encoded for
//! autoencoders (standardised numbers, one-hot categories, fitted on the training rows only), and
//! the KDD Cup 1999 intrusion-detection format (41 features and a label, no header).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::batcher::ImageBatch;
use crate::error::{DataError, Result};

/// The rows of a CSV file as strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column names (from the header, or `c0`, `c1`, ...).
    pub columns: Vec<String>,
    /// The rows, each with `columns.len()` fields.
    pub rows: Vec<Vec<String>>,
    /// The 1-based line of each row in the file.
    pub lines: Vec<u64>,
    /// The file.
    pub path: PathBuf,
}

/// Reads a CSV file; every row must have as many fields as the first.
pub fn read_csv(path: &Path, has_header: bool) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(has_header)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(file);
    let csv_error = |e: csv::Error| DataError::Csv {
        path: path.to_path_buf(),
        line: e.position().map_or(0, |p| p.line()),
        column: None,
        message: e.to_string(),
    };
    let mut columns: Vec<String> = if has_header {
        reader
            .headers()
            .map_err(csv_error)?
            .iter()
            .map(str::to_string)
            .collect()
    } else {
        Vec::new()
    };
    let (mut rows, mut lines) = (Vec::new(), Vec::new());
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        lines.push(record.position().map_or(0, |p| p.line()));
        rows.push(record.iter().map(str::to_string).collect::<Vec<_>>());
    }
    if columns.is_empty() {
        let width = rows.first().map_or(0, Vec::len);
        columns = (0..width).map(|i| format!("c{i}")).collect();
    }
    if rows.is_empty() {
        return Err(DataError::Csv {
            path: path.to_path_buf(),
            line: 1,
            column: None,
            message: "no data rows".into(),
        });
    }
    Ok(Table {
        columns,
        rows,
        lines,
        path: path.to_path_buf(),
    })
}

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
    /// values parse as numbers, categorical otherwise.
    pub fn fit(table: &Table, rows: &[usize], label_column: usize) -> Result<Self> {
        let columns = (0..table.columns.len())
            .filter(|&c| c != label_column)
            .map(|c| {
                let values: Option<Vec<f64>> = rows
                    .iter()
                    .map(|&r| table.rows[r][c].parse::<f64>().ok())
                    .collect();
                let encoding = match values {
                    Some(v) if !v.is_empty() => {
                        let n = v.len() as f64;
                        let mean = v.iter().sum::<f64>() / n;
                        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                        let std = if var > 0.0 { var.sqrt() } else { 1.0 };
                        ColumnEncoding::Numeric { mean, std }
                    }
                    _ => {
                        let mut categories: Vec<String> =
                            rows.iter().map(|&r| table.rows[r][c].clone()).collect();
                        categories.sort();
                        categories.dedup();
                        ColumnEncoding::Categorical { categories }
                    }
                };
                (c, encoding)
            })
            .collect();
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
    pub fn transform(&self, table: &Table, rows: &[usize]) -> Result<Vec<f32>> {
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

/// Feature vectors with optional labels, as a Burn dataset.
#[derive(Debug, Clone)]
pub struct VectorDataset {
    dim: usize,
    values: Arc<Vec<f32>>,
    labels: Option<Arc<Vec<u32>>>,
}

/// One row of a [`VectorDataset`].
#[derive(Debug, Clone, PartialEq)]
pub struct VectorItem {
    /// The features.
    pub values: Vec<f32>,
    /// The label, when there is one.
    pub label: Option<u32>,
}

impl VectorDataset {
    /// Rows of `dim` values (and labels).
    pub fn new(dim: usize, values: Vec<f32>, labels: Option<Vec<u32>>) -> Result<Self> {
        let count = values.len().checked_div(dim).unwrap_or(0);
        if dim == 0
            || count * dim != values.len()
            || labels.as_ref().is_some_and(|l| l.len() != count)
        {
            return Err(DataError::InvalidArgument {
                what: "vector dataset",
                message: format!(
                    "{} values, width {dim}, {:?} labels",
                    values.len(),
                    labels.map(|l| l.len())
                ),
            });
        }
        Ok(Self {
            dim,
            values: Arc::new(values),
            labels: labels.map(Arc::new),
        })
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// All values, row after row.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The labels, when present.
    pub fn labels(&self) -> Option<&[u32]> {
        self.labels.as_deref().map(Vec::as_slice)
    }

    /// Rows `range` as one batch on `device`.
    pub fn batch(&self, range: std::ops::Range<usize>, device: &Device) -> ImageBatch {
        let end = range.end.min(self.len());
        let items = (range.start.min(end)..end)
            .filter_map(|i| self.get(i).ok())
            .collect();
        VectorBatcher.batch(items, device)
    }
}

impl Dataset<VectorItem> for VectorDataset {
    fn get(&self, index: usize) -> std::result::Result<VectorItem, DatasetError> {
        let values = self
            .values
            .get(index * self.dim..(index + 1) * self.dim)
            .ok_or_else(|| DataError::past_the_end("row index", index, self.len(), "rows"))?
            .to_vec();
        Ok(VectorItem {
            values,
            label: self.labels().map(|l| l[index]),
        })
    }

    fn len(&self) -> usize {
        self.values.len() / self.dim
    }
}

/// Batches rows as `[N, 1, 1, F]` "images", the shape the dense autoencoders flatten.
#[derive(Debug, Clone, Copy, Default)]
pub struct VectorBatcher;

impl Batcher<VectorItem, ImageBatch> for VectorBatcher {
    fn batch(&self, items: Vec<VectorItem>, device: &Device) -> ImageBatch {
        let n = items.len();
        let dim = items.first().map_or(0, |i| i.values.len());
        let values: Vec<f32> = items
            .iter()
            .flat_map(|i| i.values.iter().copied())
            .collect();
        let labels: Option<Vec<i64>> = items.iter().map(|i| i.label.map(i64::from)).collect();
        ImageBatch {
            images: Tensor::from_data(TensorData::new(values, [n, 1, 1, dim]), device),
            labels: labels.map(|l| Tensor::<1, Int>::from_data(TensorData::new(l, [n]), device)),
        }
    }
}

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

/// Splits a labelled table for anomaly detection: rows whose `label_column` equals
/// `normal_label` are normal; `test_fraction` of all rows (seeded) are the test set; the rest's
/// normal rows train (less `valid_fraction` of them, held out).
pub fn anomaly_splits(
    table: &Table,
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
    let mut order: Vec<usize> = (0..table.rows.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let n_test = ((order.len() as f64) * test_fraction).round() as usize;
    let (test_rows, rest) = order.split_at(n_test.min(order.len()));
    let normal: Vec<usize> = rest
        .iter()
        .copied()
        .filter(|&r| table.rows[r][label_column] == normal_label)
        .collect();
    let n_valid = ((normal.len() as f64) * valid_fraction).round() as usize;
    let (valid_rows, train_rows) = normal.split_at(n_valid.min(normal.len()));
    if train_rows.is_empty() || valid_rows.is_empty() || test_rows.is_empty() {
        return Err(DataError::InvalidArgument {
            what: "anomaly split",
            message: format!(
                "{} rows, {} normal (`{normal_label}`) outside the test set: too few to train, hold out and test",
                table.rows.len(),
                normal.len()
            ),
        });
    }
    let encoder = TabularEncoder::fit(table, train_rows, label_column)?;
    let dim = encoder.width();
    let make = |rows: &[usize]| -> Result<VectorDataset> {
        let labels = rows
            .iter()
            .map(|&r| u32::from(table.rows[r][label_column] != normal_label))
            .collect();
        VectorDataset::new(dim, encoder.transform(table, rows)?, Some(labels))
    };
    Ok(AnomalySplits {
        train: make(train_rows)?,
        valid: make(valid_rows)?,
        test: make(test_rows)?,
        test_labels: test_rows
            .iter()
            .map(|&r| table.rows[r][label_column].clone())
            .collect(),
        encoder,
    })
}

/// The 41 feature names of KDD Cup 1999, in file order (the 42nd column is the label).
pub const KDD_FEATURES: [&str; 41] = [
    "duration",
    "protocol_type",
    "service",
    "flag",
    "src_bytes",
    "dst_bytes",
    "land",
    "wrong_fragment",
    "urgent",
    "hot",
    "num_failed_logins",
    "logged_in",
    "num_compromised",
    "root_shell",
    "su_attempted",
    "num_root",
    "num_file_creations",
    "num_shells",
    "num_access_files",
    "num_outbound_cmds",
    "is_host_login",
    "is_guest_login",
    "count",
    "srv_count",
    "serror_rate",
    "srv_serror_rate",
    "rerror_rate",
    "srv_rerror_rate",
    "same_srv_rate",
    "diff_srv_rate",
    "srv_diff_host_rate",
    "dst_host_count",
    "dst_host_srv_count",
    "dst_host_same_srv_rate",
    "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate",
    "dst_host_srv_diff_host_rate",
    "dst_host_serror_rate",
    "dst_host_srv_serror_rate",
    "dst_host_rerror_rate",
    "dst_host_srv_rerror_rate",
];

/// The label of normal traffic in KDD Cup 1999 files.
pub const KDD_NORMAL: &str = "normal.";

/// Writes `rows` lines of synthetic traffic in the KDD Cup 1999 format (no header, 41 features,
/// label with a trailing dot): normal HTTP/SMTP/FTP-like connections and, with probability
/// `attack_fraction`, `smurf.` (ICMP echo floods) or `neptune.` (SYN floods) rows shaped like
/// those attacks in the real data. It stands in for `kddcup.data_10_percent`, which cannot be
/// downloaded here; the pipeline reads the real file unchanged.
pub fn write_synthetic_kdd(
    path: &Path,
    rows: usize,
    attack_fraction: f64,
    seed: u64,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut text = String::with_capacity(rows * 160);
    for _ in 0..rows {
        let mut f = vec![0.0f64; 41];
        let (protocol, service, flag, label);
        let u: f64 = rng.random();
        if u >= attack_fraction {
            (protocol, flag, label) = ("tcp", "SF", KDD_NORMAL);
            service = ["http", "smtp", "ftp_data", "domain_u"][rng.random_range(0..4usize)];
            f[0] = if rng.random_bool(0.9) {
                0.0
            } else {
                rng.random_range(1.0..300.0f64).round()
            };
            f[4] = rng.random_range(100.0..2000.0f64).round();
            f[5] = rng.random_range(200.0..30000.0f64).round();
            f[11] = 1.0;
            f[22] = rng.random_range(1.0..20.0f64).round();
            f[23] = rng.random_range(1.0..25.0f64).round();
            f[28] = 1.0;
            f[31] = rng.random_range(10.0..255.0f64).round();
            f[32] = 255.0;
            f[33] = 1.0;
        } else if rng.random_bool(0.6) {
            (protocol, service, flag, label) = ("icmp", "ecr_i", "SF", "smurf.");
            f[4] = [520.0, 1032.0][rng.random_range(0..2usize)];
            f[22] = 511.0;
            f[23] = 511.0;
            f[28] = 1.0;
            f[31] = 255.0;
            f[32] = 255.0;
            f[33] = 1.0;
            f[35] = 1.0;
        } else {
            (protocol, flag, label) = ("tcp", "S0", "neptune.");
            service = ["private", "telnet", "finger"][rng.random_range(0..3usize)];
            f[22] = rng.random_range(100.0..300.0f64).round();
            f[23] = rng.random_range(5.0..25.0f64).round();
            f[24] = 1.0;
            f[25] = 1.0;
            f[28] = rng.random_range(0.0..0.1f64);
            f[29] = rng.random_range(0.05..0.1f64);
            f[31] = 255.0;
            f[32] = rng.random_range(1.0..25.0f64).round();
            f[37] = 1.0;
            f[38] = 1.0;
        }
        let fields: Vec<String> = (0..41)
            .map(|i| match i {
                1 => protocol.to_string(),
                2 => service.to_string(),
                3 => flag.to_string(),
                _ if f[i].fract() == 0.0 => format!("{}", f[i] as i64),
                _ => format!("{:.2}", f[i]),
            })
            .collect();
        text.push_str(&fields.join(","));
        text.push(',');
        text.push_str(label);
        text.push('\n');
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
    fn encodes_numbers_and_categories_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "t.csv",
            "size,colour,label\n1,red,ok\n3,blue,ok\n5,red,bad\n",
        );
        let table = read_csv(&path, true).unwrap();
        assert_eq!(table.columns, vec!["size", "colour", "label"]);
        let encoder = TabularEncoder::fit(&table, &[0, 1], 2).unwrap();
        // size: mean 2, std 1; colour: [blue, red].
        assert_eq!(encoder.width(), 3);
        let x = encoder.transform(&table, &[0, 1, 2]).unwrap();
        assert_eq!(x, vec![-1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 3.0, 0.0, 1.0]);
    }

    #[test]
    fn malformed_files_name_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let ragged = write(dir.path(), "r.csv", "a,b\n1,2\n3\n");
        let err = read_csv(&ragged, true).unwrap_err();
        assert!(matches!(err, DataError::Csv { line: 3, .. }), "{err}");
        assert!(err.to_string().contains("r.csv"), "{err}");
        let bad = write(dir.path(), "b.csv", "1,x\n2,x\nzz,x\n");
        let table = read_csv(&bad, false).unwrap();
        let encoder = TabularEncoder::fit(&table, &[0, 1], 1).unwrap();
        let err = encoder.transform(&table, &[2]).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Csv {
                    line: 3,
                    column: Some(1),
                    ..
                }
            ),
            "{err}"
        );
        assert!(read_csv(&write(dir.path(), "e.csv", "a,b\n"), true).is_err());
    }

    #[test]
    fn synthetic_kdd_has_the_format_and_splits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kdd.data");
        write_synthetic_kdd(&path, 600, 0.3, 4).unwrap();
        let table = read_csv(&path, false).unwrap();
        assert_eq!(table.columns.len(), 42);
        assert!(table.rows.iter().all(|r| r[41].ends_with('.')));
        let splits = anomaly_splits(&table, 41, KDD_NORMAL, 0.3, 0.1, 1).unwrap();
        assert_eq!(splits.test.len(), 180);
        assert!(splits.train.labels().unwrap().iter().all(|&l| l == 0));
        let anomalies = splits
            .test
            .labels()
            .unwrap()
            .iter()
            .filter(|&&l| l == 1)
            .count();
        assert!((30..90).contains(&anomalies), "{anomalies}");
        // protocol_type, service and flag are categorical; the rest numeric.
        let categorical = splits
            .encoder
            .columns
            .iter()
            .filter(|(_, e)| matches!(e, ColumnEncoding::Categorical { .. }))
            .map(|(c, _)| *c)
            .collect::<Vec<_>>();
        assert_eq!(categorical, vec![1, 2, 3]);
        let batch = splits.test.batch(0..4, &Device::flex());
        assert_eq!(batch.images.dims(), [4, 1, 1, splits.encoder.width()]);
    }
}
