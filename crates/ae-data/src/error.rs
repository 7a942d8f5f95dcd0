//! The one error type of `ae-data`: every variant names the file (or folder) it is about and says
//! what the user can do next.

use std::path::PathBuf;

/// What can go wrong while reading or preparing a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The path is not a regular file (or folder), is larger than its limit, or loops.
    #[error(transparent)]
    Input(#[from] ae_io::InputError),

    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A file could not be written (a full disk, a read-only folder).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The file is named `*.gz` but does not start with the gzip magic bytes.
    #[error(
        "{} is named like a gzip file but is not gzip data (it starts with {found:02x?}); \
         download it again, or drop the `.gz` suffix if it is a raw IDX file",
        path.display()
    )]
    NotGzip {
        /// The file.
        path: PathBuf,
        /// Its first bytes.
        found: Vec<u8>,
    },

    /// The gzip stream could not be decompressed (corrupt or cut short).
    #[error("{}: the gzip data is corrupt or truncated ({source}); download the file again", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },

    /// The first four bytes are not an IDX magic number.
    #[error(
        "{}: not an IDX file: the magic number is {found:#010x}, expected 0x000008NN \
         (two zero bytes, element type 0x08 = unsigned byte, then the rank)",
        path.display()
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number read.
        found: u32,
    },

    /// The IDX element type is not unsigned bytes.
    #[error(
        "{}: IDX element type {found:#04x} is not supported; MNIST-format files store unsigned bytes (0x08)",
        path.display()
    )]
    UnsupportedElementType {
        /// The file.
        path: PathBuf,
        /// The type byte read.
        found: u8,
    },

    /// The IDX rank is not the one expected (3 for images, 1 for labels).
    #[error("{}: expected an IDX file of rank {expected} ({what}), found rank {found}", path.display())]
    WrongRank {
        /// The file.
        path: PathBuf,
        /// The rank this kind of file must have.
        expected: usize,
        /// The rank in the header.
        found: usize,
        /// What the file was read as ("images" or "labels").
        what: &'static str,
    },

    /// A dimension in the header is zero or too large.
    #[error("{}: invalid dimensions {dims:?} in the IDX header ({reason})", path.display())]
    InvalidDimensions {
        /// The file.
        path: PathBuf,
        /// The dimensions read.
        dims: Vec<u64>,
        /// What is wrong with them.
        reason: &'static str,
    },

    /// The file holds fewer bytes than its header announces.
    #[error(
        "{}: truncated: the header announces {expected} bytes but only {found} follow it; \
         download the file again",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes announced (header included where the header itself is cut).
        expected: u64,
        /// Bytes present.
        found: u64,
    },

    /// The file holds more bytes than its header announces.
    #[error("{}: {extra} unexpected bytes after the data the header announces", path.display())]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// How many bytes are left over.
        extra: u64,
    },

    /// An images file and its labels file disagree on the number of items.
    #[error(
        "{} holds {images} images but {} holds {labels} labels; the two files must come from the same split",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// The labels file.
        labels_path: PathBuf,
        /// Images in it.
        images: usize,
        /// Labels in it.
        labels: usize,
    },

    /// A file of an MNIST-format folder is missing.
    #[error(
        "no {what} file in {}: looked for {candidates}; point --data-dir at a folder holding the four \
         MNIST-format IDX files (raw or .gz)",
        dir.display()
    )]
    MissingFile {
        /// The folder searched.
        dir: PathBuf,
        /// Which file ("training images", ...).
        what: &'static str,
        /// The names tried.
        candidates: String,
    },

    /// Fashion-MNIST is not installed where it was looked for.
    #[error(
        "Fashion-MNIST was not found in {}: install it with `apt-get install dataset-fashion-mnist` \
         (Debian/Ubuntu), or pass --data-dir DIR with the four Fashion-MNIST IDX files",
        dir.display()
    )]
    FashionMnistNotFound {
        /// The folder searched.
        dir: PathBuf,
    },

    /// An image file could not be decoded.
    #[error("cannot decode image {}: {source}", path.display())]
    Image {
        /// The image file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },

    /// An image folder holds no image files.
    #[error("{} holds no image files (.png, .jpg, .jpeg, .bmp)", dir.display())]
    EmptyImageFolder {
        /// The folder.
        dir: PathBuf,
    },

    /// A CSV file is malformed at a given line (and column, when known).
    #[error("{}: line {line}{}: {message}", path.display(), column.map(|c| format!(", column {c}")).unwrap_or_default())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// The 1-based column, when the problem is in one field.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },

    /// Two splits of one dataset hold images of different shapes.
    #[error(
        "the training images ({}) are {train} but the test images ({}) are {test}: a model takes \
         one shape; use files of one image size",
        train_file.display(),
        test_file.display()
    )]
    SplitShapes {
        /// The training images' file.
        train_file: PathBuf,
        /// Their shape.
        train: String,
        /// The test images' file.
        test_file: PathBuf,
        /// Their shape.
        test: String,
    },

    /// Decompressed data larger than this crate reads.
    #[error(
        "{}: the gzip data decompresses to more than {limit} bytes, the most a data file may \
         hold (--max-input-size, at most 2 GiB decompressed): raise the limit if the file is \
         meant to be this large",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },

    /// A structure the data asks for would need more memory than this crate allocates.
    #[error("{what} is too large: {plan}; {remedy}")]
    TooLargeToPlan {
        /// What would be allocated.
        what: &'static str,
        /// The sizes and the bytes they would need.
        plan: String,
        /// What to do.
        remedy: String,
    },

    /// An argument is out of its range (a split fraction, an image size, ...).
    #[error("invalid {what}: {message}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// Why it is rejected.
        message: String,
    },
}

impl DataError {
    /// The error a Burn `Dataset::get` returns for an index past the end of `len` items.
    pub(crate) fn past_the_end(
        what: &'static str,
        index: usize,
        len: usize,
        unit: &str,
    ) -> burn::data::dataset::DatasetError {
        burn::data::dataset::DatasetError::new(Self::InvalidArgument {
            what,
            message: format!("{index} is past the end ({len} {unit})"),
        })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
