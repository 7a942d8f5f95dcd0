use std::path::{Path, PathBuf};

use burn::data::dataset::Dataset;
use burn::tensor::Device;

use crate::error::DataError;

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

    // A table of labels only has nothing to score rows by.
    let labels_only = dir.path().join("labels.csv");
    let rows: String = (0..100)
        .map(|i| if i % 4 == 0 { "bad\n" } else { "ok\n" })
        .collect();
    std::fs::write(&labels_only, rows).unwrap();
    let table = read_csv(&labels_only, false).unwrap();
    let err = anomaly_splits(&table, 0, "ok", 0.3, 0.1, 1)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no column besides the label"), "{err}");
}

/// A few non-numbers in an otherwise numeric column are an error naming the line and column;
/// NaN and infinities are not numbers.
#[test]
fn a_mostly_numeric_column_with_a_stray_value_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "t.csv",
        "1,a,normal.\n2,b,normal.\nNaN,a,normal.\n4,b,normal.\n",
    );
    let table = read_csv(&path, false).unwrap();
    let err = TabularEncoder::fit(&table, &[0, 1, 2, 3], 2).unwrap_err();
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
    // A column of words stays categorical.
    let encoder = TabularEncoder::fit(&table, &[0, 1, 3], 2).unwrap();
    assert_eq!(encoder.width(), 1 + 2);
}

/// Values near f64's range: a plain variance overflows to infinity and every standardised value
/// becomes 0; scaled, they standardise like small ones.
#[test]
fn huge_values_standardise_like_small_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "t.csv", "x,label\n1e300,a\n3e300,a\n5e300,a\n");
    let table = read_csv(&path, true).unwrap();
    let encoder = TabularEncoder::fit(&table, &[0, 1], 1).unwrap();
    let x = encoder.transform(&table, &[0, 1, 2]).unwrap();
    let expected = [-1.0f32, 1.0, 3.0];
    assert!(
        x.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-5),
        "{x:?}"
    );
}

/// A categorical column with a new value on every row would one-hot into as many features as
/// rows; a file of more columns than a feature table takes: both refused with their sizes,
/// before the table is built.
#[test]
fn tables_too_wide_are_refused_with_their_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,x,label\n");
    for i in 0..70_000 {
        text.push_str(&format!("user-{i},{},ok\n", i % 7));
    }
    let path = write(dir.path(), "ids.csv", &text);
    let table = read_csv(&path, true).unwrap();
    let rows: Vec<usize> = (0..table.rows.len()).collect();
    let err = TabularEncoder::fit(&table, &rows, 2)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("70000 rows x 70001 features") && err.contains("`id` 70000"),
        "{err}"
    );

    let wide = vec!["1"; super::encoder::MAX_FEATURES + 2].join(",");
    let path = write(dir.path(), "wide.csv", &format!("{wide}\n{wide}\n"));
    let err = read_csv(&path, false).unwrap_err().to_string();
    assert!(err.contains("65538 columns"), "{err}");
}
