//! Opening the files and folders a user names, one way for every crate of the workspace.
//!
//! A path given on a command line or found in a folder can name anything: a FIFO, which blocks
//! a plain `open` or `read` forever; `/dev/zero` (or a link to it), which a plain `read` reads
//! until memory runs out; a folder; a loop of symbolic links. Here:
//!
//! - [`read`], [`read_to_string`] and [`open`] accept a regular file only, checked on the opened
//!   handle (opened without blocking, so that a FIFO swapped in after a check cannot block), and
//!   read at most a [`Limit`] of bytes, naming the path and the limit when a file is larger;
//! - [`check_file`] does the same checks for a file another library will read (Burn's `.bpk`
//!   loader);
//! - [`read_dir`] lists a folder, refusing anything else, and [`Visited`] detects the link loops
//!   of a recursive walk.
//!
//! ```
//! use ae_io::{InputError, Limit};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("config.json");
//! std::fs::write(&path, "{}")?;
//! assert_eq!(ae_io::read_to_string(&path, Limit::JSON)?, "{}");
//! let err = ae_io::read(dir.path(), Limit::JSON).unwrap_err();
//! assert!(matches!(err, InputError::NotAFile { .. }), "{err}"); // a folder
//! let err = ae_io::read(&path, Limit::new(1, "a test file", "write less")).unwrap_err();
//! assert!(err.to_string().contains("more than the 1 bytes"), "{err}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod checksum;
pub mod record;
mod text;
mod write;

pub use checksum::checksum;
pub use record::{RunRecord, read_record, record_found, record_written, start_record};
pub use text::{TEXT_START_BYTES, check_text_start, text_from_bytes};
pub use write::{
    TEMPORARY_SUFFIX, check_replaceable, is_left_by_dead_process, is_temporary, temporary_path,
    write_atomic,
};

use std::collections::HashSet;
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The most bytes a read may take, what kind of file it is for, and how to raise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The most bytes.
    pub bytes: u64,
    /// What kind of file the limit is for, for the error ("a model configuration").
    pub what: &'static str,
    /// What the user can do about a file past it.
    pub remedy: &'static str,
}

impl Limit {
    /// The JSON files the workspace writes beside a model or a run (`config.json`, `fit.json`,
    /// `run.json`, a lock file): 16 MiB, far above any it writes.
    pub const JSON: Limit = Limit::new(
        16 << 20,
        "a model or run file",
        "this is not a file this workspace wrote",
    );

    /// A limit of `bytes` for `what`, with `remedy` for a larger file.
    pub const fn new(bytes: u64, what: &'static str, remedy: &'static str) -> Self {
        Self {
            bytes,
            what,
            remedy,
        }
    }

    /// The limit of data files (images, tables, corpora, ratings, vocabularies, checkpoints):
    /// [`max_data_bytes`].
    pub fn data() -> Self {
        Self::new(
            max_data_bytes(),
            "a data file",
            "raise it with --max-input-size (or ae_io::set_max_data_bytes)",
        )
    }
}

/// The default of [`max_data_bytes`]: 8 GiB.
pub const DEFAULT_MAX_DATA_BYTES: u64 = 8 << 30;

static MAX_DATA_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_DATA_BYTES);

/// The most bytes a data file may hold ([`Limit::data`]); [`DEFAULT_MAX_DATA_BYTES`] unless set.
pub fn max_data_bytes() -> u64 {
    MAX_DATA_BYTES.load(Ordering::Relaxed)
}

/// Sets [`max_data_bytes`] for the whole process (the examples' `--max-input-size`).
pub fn set_max_data_bytes(bytes: u64) {
    MAX_DATA_BYTES.store(bytes, Ordering::Relaxed);
}

/// Why a path could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The operating system refused (missing, permissions, ...).
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The path names something else than a regular file.
    #[error("{} is {kind}, not a regular file: name a file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is ("a folder", "a FIFO (named pipe)", "a character device", ...).
        kind: &'static str,
    },
    /// The path names something else than a folder.
    #[error("{} is {kind}, not a folder: name a folder", path.display())]
    NotAFolder {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// The file holds more bytes than its limit.
    #[error(
        "{} is {size} bytes, more than the {limit} bytes allowed for {what}: {remedy}",
        path.display()
    )]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size, or the bytes read when it grew while read.
        size: u64,
        /// The limit.
        limit: u64,
        /// What the limit is for.
        what: &'static str,
        /// What to do.
        remedy: &'static str,
    },
    /// Following the path's symbolic links comes back to where it started.
    #[error("{}: a loop of symbolic links (or too many links in a row)", path.display())]
    LinkLoop {
        /// The path.
        path: PathBuf,
    },
    /// A folder walk came back to a folder it had listed, through a link.
    #[error(
        "{} leads back to {}, already read (a link loop, or a second link to one folder): \
         remove the link",
        path.display(),
        earlier.display()
    )]
    FolderLoop {
        /// The path that leads back.
        path: PathBuf,
        /// The folder it leads to.
        earlier: PathBuf,
    },
}

impl InputError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. }
            | Self::NotAFile { path, .. }
            | Self::NotAFolder { path, .. }
            | Self::TooLarge { path, .. }
            | Self::LinkLoop { path }
            | Self::FolderLoop { path, .. } => path,
        }
    }

    fn io(path: &Path, source: std::io::Error) -> Self {
        if is_link_loop(&source) {
            return Self::LinkLoop {
                path: path.to_path_buf(),
            };
        }
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

#[cfg(unix)]
fn is_link_loop(err: &std::io::Error) -> bool {
    err.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_link_loop(_err: &std::io::Error) -> bool {
    false
}

/// What a file system entry is, in words.
fn kind_of(metadata: &Metadata) -> &'static str {
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        return "a folder";
    }
    if file_type.is_file() {
        return "a regular file";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    "neither a file nor a folder"
}

/// The path's metadata, links followed.
fn metadata(path: &Path) -> Result<Metadata, InputError> {
    std::fs::metadata(path).map_err(|e| InputError::io(path, e))
}

/// Checks that `path` is a regular file of at most `limit` bytes, without opening it.
///
/// # Errors
/// [`InputError::NotAFile`], [`InputError::TooLarge`], or the operating system's error.
pub fn check_file(path: &Path, limit: Limit) -> Result<u64, InputError> {
    let metadata = metadata(path)?;
    check_regular(path, &metadata, limit)
}

fn check_regular(path: &Path, metadata: &Metadata, limit: Limit) -> Result<u64, InputError> {
    if !metadata.is_file() {
        return Err(InputError::NotAFile {
            path: path.to_path_buf(),
            kind: kind_of(metadata),
        });
    }
    let size = metadata.len();
    if size > limit.bytes {
        return Err(too_large(path, size, limit));
    }
    Ok(size)
}

fn too_large(path: &Path, size: u64, limit: Limit) -> InputError {
    InputError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit: limit.bytes,
        what: limit.what,
        remedy: limit.remedy,
    }
}

/// A regular file opened for reading, which fails a read past its limit.
#[derive(Debug)]
pub struct BoundedFile {
    file: File,
    path: PathBuf,
    limit: Limit,
    read: u64,
}

impl BoundedFile {
    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Read for BoundedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // One byte more than the limit may be read, to tell a file that ends at it from one that
        // goes on.
        let room = (self.limit.bytes + 1).saturating_sub(self.read);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        self.read += n as u64;
        if self.read > self.limit.bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                too_large(&self.path, self.read, self.limit).to_string(),
            ));
        }
        Ok(n)
    }
}

/// Opens a regular file for reading at most `limit` bytes: the path is checked, opened without
/// blocking, and the opened handle checked again (a FIFO swapped in meanwhile is refused).
///
/// # Errors
/// [`InputError::NotAFile`], [`InputError::TooLarge`], [`InputError::LinkLoop`], or the
/// operating system's error.
pub fn open(path: &Path, limit: Limit) -> Result<BoundedFile, InputError> {
    check_file(path, limit)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| InputError::io(path, e))?;
    let opened = file.metadata().map_err(|e| InputError::io(path, e))?;
    check_regular(path, &opened, limit)?;
    Ok(BoundedFile {
        file,
        path: path.to_path_buf(),
        limit,
        read: 0,
    })
}

/// Reads a whole regular file of at most `limit` bytes (see [`open`]).
///
/// # Errors
/// As [`open`], and [`InputError::TooLarge`] for a file that grew past the limit while read.
pub fn read(path: &Path, limit: Limit) -> Result<Vec<u8>, InputError> {
    let mut file = open(path, limit)?;
    let size = file.file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            too_large(path, file.read, limit)
        } else {
            InputError::io(path, e)
        }
    })?;
    Ok(bytes)
}

/// Reads a whole regular file of at most `limit` bytes as UTF-8 text.
///
/// # Errors
/// As [`read`], and [`InputError::Io`] (invalid data) when the file is not UTF-8.
pub fn read_to_string(path: &Path, limit: Limit) -> Result<String, InputError> {
    text_from_bytes(path, read(path, limit)?)
}

/// Checks that `path` is a folder (links followed).
///
/// # Errors
/// [`InputError::NotAFolder`], [`InputError::LinkLoop`], or the operating system's error.
pub fn check_folder(path: &Path) -> Result<(), InputError> {
    let metadata = metadata(path)?;
    if metadata.is_dir() {
        Ok(())
    } else {
        Err(InputError::NotAFolder {
            path: path.to_path_buf(),
            kind: kind_of(&metadata),
        })
    }
}

/// The folders a recursive walk has listed, by their identity on disk, so that a link back to
/// one of them is a [`InputError::FolderLoop`] rather than an endless walk.
#[derive(Debug, Default)]
pub struct Visited {
    seen: HashSet<(u64, u64)>,
    paths: Vec<((u64, u64), PathBuf)>,
}

impl Visited {
    /// No folder listed yet.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The entries of the folder `path` in name order, hidden ones (names starting with `.`) left
/// out. With `visited`, a folder listed before is an error (a link loop).
///
/// # Errors
/// [`InputError::NotAFolder`], [`InputError::FolderLoop`], or the operating system's error
/// (an unreadable folder or entry is an error, never skipped).
pub fn read_dir(path: &Path, visited: Option<&mut Visited>) -> Result<Vec<PathBuf>, InputError> {
    let metadata = metadata(path)?;
    if !metadata.is_dir() {
        return Err(InputError::NotAFolder {
            path: path.to_path_buf(),
            kind: kind_of(&metadata),
        });
    }
    if let Some(visited) = visited
        && let Some(id) = identity(&metadata)
    {
        if !visited.seen.insert(id) {
            let earlier = visited
                .paths
                .iter()
                .find(|(seen, _)| *seen == id)
                .map_or_else(|| path.to_path_buf(), |(_, p)| p.clone());
            return Err(InputError::FolderLoop {
                path: path.to_path_buf(),
                earlier,
            });
        }
        visited.paths.push((id, path.to_path_buf()));
    }
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| InputError::io(path, e))? {
        let entry = entry.map_err(|e| InputError::io(path, e))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        entries.push(entry.path());
    }
    entries.sort();
    Ok(entries)
}

#[cfg(unix)]
fn identity(metadata: &Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn identity(_metadata: &Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(all(test, unix))]
mod tests;
