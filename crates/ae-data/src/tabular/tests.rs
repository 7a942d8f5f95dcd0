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

/// The compact table gives back every field as written: empty ones, quoted commas, text.
#[test]
fn fields_read_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "f.csv", "a,,\"x, y\"\n\n\"\",2,z\nlast,3,\n");
    let table = read_csv(&path, false).unwrap();
    assert_eq!(table.len(), 3);
    let rows: Vec<Vec<&str>> = (0..table.len()).map(|r| table.row(r).collect()).collect();
    assert_eq!(rows, [["a", "", "x, y"], ["", "2", "z"], ["last", "3", ""]]);
    assert_eq!(table.lines, [1, 3, 4]);
    // After a blank line too, an error names the line of the file (the csv crate's count
    // skips blank lines).
    let ragged = write(dir.path(), "r.csv", "a,b\n\n\n1,2\n3\n");
    let err = read_csv(&ragged, false).unwrap_err();
    assert!(matches!(err, DataError::Csv { line: 5, .. }), "{err}");
    assert!(
        err.to_string()
            .ends_with("1 fields, but the rows before have 2"),
        "{err}"
    );
    // A gzip or UTF-16 table is named as such.
    let gz = dir.path().join("t.csv.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0]).unwrap();
    let err = read_csv(&gz, false).unwrap_err().to_string();
    assert!(err.contains("gunzip"), "{err}");
    let utf16: Vec<u8> = "a,b\n1,2\n".bytes().flat_map(|b| [b, 0]).collect();
    let u16 = dir.path().join("u.csv");
    std::fs::write(&u16, utf16).unwrap();
    let err = read_csv(&u16, false).unwrap_err().to_string();
    assert!(err.contains("UTF-16"), "{err}");
    // Old Mac line ends (`\r` alone) count as lines too.
    let mac = write(dir.path(), "m.csv", "a,b\r1,2\r3\r");
    let err = read_csv(&mac, false).unwrap_err();
    assert!(matches!(err, DataError::Csv { line: 3, .. }), "{err}");
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
    assert!((0..table.len()).all(|r| table.field(r, 41).ends_with('.')));
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

/// Found by a bad-input campaign: a numeric column mostly of missing-value markers was read
/// as categories of every number; non-finite values outside the training rows reached the
/// model; `--header` on a file without one left out its first row; a line of millions of
/// commas took 40 times its size in memory.
#[test]
fn misreadings_of_a_table_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let markers = write(dir.path(), "m.csv", "?,a\n2,a\n?,a\n?,a\n5,a\n");
    let table = read_csv(&markers, false).unwrap();
    let err = TabularEncoder::fit(&table, &[0, 1, 2, 3, 4], 1).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Csv {
                line: 1,
                column: Some(1),
                ..
            }
        ) && err.to_string().contains("\"?\""),
        "{err}"
    );

    // Words beside numbers are categories (a floor: ground, basement, 1, 2), not markers.
    let floors = write(
        dir.path(),
        "f.csv",
        "ground,a\n1,a\nbasement,a\n2,a\nground,a\n",
    );
    let table = read_csv(&floors, false).unwrap();
    let encoder = TabularEncoder::fit(&table, &[0, 1, 2, 3, 4], 1).unwrap();
    assert_eq!(encoder.width(), 4);

    let later = write(
        dir.path(),
        "n.csv",
        "1,a\n2,a\n3,a\nNaN,a\ninf,a\n1e400,a\n-1e308,a\n,a\n",
    );
    let table = read_csv(&later, false).unwrap();
    let encoder = TabularEncoder::fit(&table, &[0, 1, 2], 1).unwrap();
    for row in 3..8 {
        let err = encoder.transform(&table, &[row]).unwrap_err();
        let line = row as u64 + 1;
        assert!(
            matches!(err, DataError::Csv { line: l, column: Some(1), .. } if l == line),
            "{err}"
        );
    }

    let no_header = write(dir.path(), "h.csv", "1,2,x\n3,4,y\n5,6,x\n");
    let err = read_csv(&no_header, true).unwrap_err().to_string();
    assert!(err.contains("leave out --header"), "{err}");
    // Column names that are numbers (years, pandas' 0,1,2) over a label named in words are a
    // header.
    for header in ["2018,2019,label", "0,1,2"] {
        let years = write(dir.path(), "y.csv", &format!("{header}\n1,2,ok\n3,4,bad\n"));
        assert_eq!(read_csv(&years, true).unwrap().len(), 2, "{header}");
    }

    let commas = write(
        dir.path(),
        "c.csv",
        &format!("1,2\n{}\n", ",".repeat(MAX_LINE_BYTES + 1)),
    );
    let err = read_csv(&commas, false).unwrap_err();
    assert!(matches!(err, DataError::Csv { line: 2, .. }), "{err}");
}

#[test]
fn a_missing_normal_label_lists_the_labels_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "t.csv", "1;normal.\n2;normal.\n3;attack.\n");
    let table = read_csv(&path, false).unwrap();
    let err = anomaly_splits(&table, 0, "normal.", 0.3, 0.1, 1)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"1;normal.\" (1 row)") && err.contains("--label-column"),
        "{err}"
    );
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
    let rows: Vec<usize> = (0..table.len()).collect();
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
