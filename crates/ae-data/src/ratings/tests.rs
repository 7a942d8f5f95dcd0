use std::path::{Path, PathBuf};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{Device, Tensor};

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
    // Columns after the fourth (a title) are not read.
    let titled = write(
        dir.path(),
        "titled.csv",
        "userId,movieId,rating,timestamp,title\n196,242,3.0,1,Kolya (1996)\n7,242,5,1,Kolya\n",
    );
    for path in [ml100k, ml1m, csv, titled] {
        let ratings = read_ratings(&path).unwrap();
        assert_eq!(ratings.user_ids, [7, 196]);
        assert_eq!(ratings.item_ids, [242]);
        let first = ratings.ratings[0];
        assert_eq!((first.user, first.item, first.value), (1, 0, 3.0));
    }
}

/// An editor's byte order mark is not part of the first field: every rating is read, with or
/// without a header (the first rating was taken for a header and left out).
#[test]
fn a_byte_order_mark_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    for text in [
        "\u{feff}1,10,3\n2,10,4\n",
        "\u{feff}userId,movieId,rating\n1,10,3\n2,10,4\n",
        "\u{feff}1\t10\t3\t0\n2\t10\t4\t0\n",
    ] {
        let path = write(dir.path(), "ratings.csv", text);
        let ratings = read_ratings(&path).unwrap();
        assert_eq!(ratings.user_ids, [1, 2], "{text:?}");
    }
    let utf16 = dir.path().join("utf16.csv");
    std::fs::write(&utf16, [0xff, 0xfe, b'1', 0, b',', 0]).unwrap();
    let error = read_ratings(&utf16).unwrap_err().to_string();
    assert!(
        error.contains("UTF-16") && error.contains("iconv"),
        "{error}"
    );
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
    let twice = write(dir.path(), "twice", "1\t2\t3\t4\n7\t7\t1\t1\n1\t2\t4\t5\n");
    let error = read_ratings(&twice).unwrap_err().to_string();
    assert!(
        error.contains("line 3") && error.contains("(line 1 too)"),
        "{error}"
    );
    // A first line with a bad id is an error as on any later line (it was taken for a header
    // and left out); so is a line of more fields than the formats have.
    for (text, expected) in [
        ("-1,5,3\n2,5,4\n", "line 1, column 1"),
        ("1.0,5,3\n2,5,4\n", "line 1, column 1"),
        ("18446744073709551616,5,3\n", "line 1, column 1"),
    ] {
        let path = write(dir.path(), "ratings.csv", text);
        let error = read_ratings(&path).unwrap_err().to_string();
        assert!(error.contains(expected), "{:?}: {error}", &text[..9]);
    }
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

#[test]
fn ratings_outside_the_scale_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["0", "-3", "1e30", "NaN"] {
        let path = write(
            dir.path(),
            "u.data",
            &format!("1\t1\t4\t0\n1\t2\t{bad}\t0\n"),
        );
        let err = read_ratings(&path).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{bad}: {err}");
    }
}
