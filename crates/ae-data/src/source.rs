//! One value that names a dataset, so that command lines and saved run configurations can say
//! "which data" in one place.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::image_folder::{
    ColorMode, ImageFolderOptions, load_image_folder, load_image_folder_split,
};
use crate::mnist::{self, TrainTest};

/// Where a dataset comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DatasetSource {
    /// The embedded 8,000/2,000 sample of real MNIST digits (no files, no network).
    MnistSample,
    /// Full Fashion-MNIST, from `dir` or where the Debian package installs it.
    FashionMnist {
        /// A folder of the four IDX files; `None` looks in the default place.
        dir: Option<PathBuf>,
    },
    /// MNIST (or any MNIST-format dataset of ten classes) from a folder of the four IDX files.
    Mnist {
        /// The folder.
        dir: PathBuf,
    },
    /// A folder of images, split into train and test with a seed.
    ImageFolder {
        /// The folder.
        dir: PathBuf,
        /// Size, colour and labelling.
        options: ImageFolderOptions,
        /// Fraction of the images held out for testing.
        test_fraction: f64,
        /// Seed of the train/test split.
        seed: u64,
    },
}

/// The names [`DatasetSource::from_name`] accepts.
pub const DATASET_NAMES: [&str; 4] = ["mnist-sample", "fashion-mnist", "mnist", "image-folder"];

impl DatasetSource {
    /// Parses a command-line dataset name with its optional `--data-dir`.
    ///
    /// `image-folder` reads 28x28 grayscale images with class sub-folders and holds out 20% for
    /// testing; build [`DatasetSource::ImageFolder`] directly for other settings.
    ///
    /// # Errors
    /// When the name is unknown, or the dataset needs a folder and none is given.
    pub fn from_name(name: &str, data_dir: Option<&Path>) -> Result<Self> {
        let need_dir = |what: &str| DataError::InvalidArgument {
            what: "dataset",
            message: format!("`{name}` needs --data-dir DIR ({what})"),
        };
        Ok(match name {
            "mnist-sample" | "sample" => Self::MnistSample,
            "fashion-mnist" | "fashion" => Self::FashionMnist {
                dir: data_dir.map(Path::to_path_buf),
            },
            "mnist" => Self::Mnist {
                dir: data_dir
                    .ok_or_else(|| {
                        need_dir(
                            "a folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
                             t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz; this \
                             workspace does not download MNIST — fetch those four files from an \
                             MNIST mirror while online, or use the embedded `mnist-sample`",
                        )
                    })?
                    .to_path_buf(),
            },
            "image-folder" | "folder" => Self::ImageFolder {
                dir: data_dir
                    .ok_or_else(|| need_dir("a folder of images, one sub-folder per class"))?
                    .to_path_buf(),
                options: ImageFolderOptions::new(28, 28, ColorMode::Grayscale),
                test_fraction: 0.2,
                seed: 0,
            },
            other => {
                return Err(DataError::InvalidArgument {
                    what: "dataset",
                    message: format!(
                        "unknown dataset `{other}`; choose one of {}",
                        DATASET_NAMES.join(", ")
                    ),
                });
            }
        })
    }

    /// Loads the train and test splits.
    pub fn load(&self) -> Result<TrainTest> {
        match self {
            Self::MnistSample => mnist::mnist_sample(),
            Self::FashionMnist { dir } => mnist::fashion_mnist(dir.as_deref()),
            Self::Mnist { dir } => mnist::mnist(dir),
            Self::ImageFolder {
                dir,
                options,
                test_fraction,
                seed,
            } => {
                let folder = load_image_folder(dir, options)?;
                for (path, reason) in &folder.skipped {
                    eprintln!("warning: skipped {}: {reason}", path.display());
                }
                let name = folder.dataset.name().to_string();
                let (train, test) = folder.dataset.split(*test_fraction, *seed)?;
                Ok(TrainTest {
                    train: train.named(format!("{name}/train")),
                    test: test.named(format!("{name}/test")),
                })
            }
        }
    }

    /// Loads the train and test splits, the first `limit` images of each: as [`load`](Self::load)
    /// then `take(limit)`, but an image folder decodes only the images kept.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn load_limited(&self, limit: Option<usize>) -> Result<TrainTest> {
        if let (
            Self::ImageFolder {
                dir,
                options,
                test_fraction,
                seed,
            },
            Some(limit),
        ) = (self, limit)
            && let Some((train, test)) =
                load_image_folder_split(dir, options, *test_fraction, *seed, limit)?
        {
            return Ok(TrainTest { train, test });
        }
        let loaded = self.load()?;
        Ok(match limit {
            Some(n) => TrainTest {
                train: loaded.train.take(n),
                test: loaded.test.take(n),
            },
            None => loaded,
        })
    }

    /// A short name for tables and file names.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MnistSample => "mnist-sample",
            Self::FashionMnist { .. } => "fashion-mnist",
            Self::Mnist { .. } => "mnist",
            Self::ImageFolder { .. } => "image-folder",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_requires_folders() {
        assert_eq!(
            DatasetSource::from_name("mnist-sample", None).unwrap(),
            DatasetSource::MnistSample
        );
        assert!(matches!(
            DatasetSource::from_name("fashion-mnist", None).unwrap(),
            DatasetSource::FashionMnist { dir: None }
        ));
        let err = DatasetSource::from_name("mnist", None).unwrap_err();
        assert!(err.to_string().contains("--data-dir"), "{err}");
        let err = DatasetSource::from_name("cifar", None).unwrap_err();
        assert!(err.to_string().contains("mnist-sample"), "{err}");
    }

    #[test]
    fn round_trips_through_json() {
        let source = DatasetSource::from_name("image-folder", Some(Path::new("/data"))).unwrap();
        let json = serde_json::to_string(&source).unwrap();
        assert!(json.contains("\"kind\":\"image-folder\""), "{json}");
        let back: DatasetSource = serde_json::from_str(&json).unwrap();
        assert_eq!(back, source);
    }
}
