//! Which files of a run folder this workspace wrote: a record file in the folder, `.autoencoders-run`,
//! one line per file (`wrote PATH`, or `found PATH` for a file that was there before the run and
//! is not the run's), so that starting over removes what the runs wrote and nothing else.
//!
//! [`write_atomic`](crate::write_atomic) records every file it writes into the record of the
//! nearest folder above it that has one (up to three levels: a run's `checkpoint/` folder, a
//! model folder inside an application's folder); a writer that renames a temporary file into
//! place itself calls [`record_written`].

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The record file of a run folder.
pub const RECORD_FILE: &str = ".autoencoders-run";

/// How many folders up from a written file a record is looked for.
const LEVELS: usize = 3;

/// What a run folder's record says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRecord {
    /// The files the workspace wrote, relative to the folder (`/`-separated).
    pub written: BTreeSet<String>,
    /// The files found in the folder when a run resumed there that it did not write.
    pub found: BTreeSet<String>,
}

/// Starts the record of `dir`: an empty one (the folder's runs wrote nothing yet).
///
/// # Errors
/// The operating system's error.
pub fn start_record(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(RECORD_FILE), b"")
}

/// The record of `dir`, if it has one. Lines that are not records are ignored (a record damaged
/// by hand counts for less, never for more).
pub fn read_record(dir: &Path) -> Option<RunRecord> {
    let text = crate::read_to_string(&dir.join(RECORD_FILE), crate::Limit::JSON).ok()?;
    let mut record = RunRecord::default();
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("wrote ") {
            record.written.insert(path.to_string());
        } else if let Some(path) = line.strip_prefix("found ") {
            record.found.insert(path.to_string());
        }
    }
    Some(record)
}

/// Records that the files `found` were in `dir` when a run resumed there and are not its own.
///
/// # Errors
/// The operating system's error.
pub fn record_found(dir: &Path, found: &[String]) -> std::io::Result<()> {
    append(
        &dir.join(RECORD_FILE),
        found.iter().map(|p| format!("found {p}\n")),
    )
}

/// Records that `path` was written, in the record of the nearest folder above it that has one.
/// Best effort: a folder without a record, or a record that cannot be written, is left alone.
pub fn record_written(path: &Path) {
    let Some((dir, relative)) = owning_folder(path) else {
        return;
    };
    let line = format!("wrote {relative}\n");
    if read_record(&dir).is_some_and(|r| r.written.contains(&relative)) {
        return;
    }
    let _ = append(&dir.join(RECORD_FILE), std::iter::once(line));
}

/// The folder whose record covers `path`, and `path` relative to it.
fn owning_folder(path: &Path) -> Option<(PathBuf, String)> {
    let mut dir = path.parent()?;
    for _ in 0..LEVELS {
        if dir.join(RECORD_FILE).is_file() {
            let relative = path.strip_prefix(dir).ok()?;
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            return Some((dir.to_path_buf(), parts.join("/")));
        }
        dir = dir.parent()?;
    }
    None
}

fn append(path: &Path, lines: impl Iterator<Item = String>) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
    let text: String = lines.collect();
    file.write_all(text.as_bytes())
}

/// Every file under `dir` (relative, `/`-separated, in name order), hidden entries (the lock,
/// the record, a user's dot-files) and temporary files left out; folders are walked, not
/// listed. Links to folders are not followed.
///
/// # Errors
/// An entry that cannot be read.
pub fn files_under(dir: &Path) -> Result<Vec<String>, crate::InputError> {
    let mut files = Vec::new();
    walk(dir, "", &mut files)?;
    Ok(files)
}

fn walk(dir: &Path, prefix: &str, files: &mut Vec<String>) -> Result<(), crate::InputError> {
    for path in crate::read_dir(dir, None)? {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let relative = format!("{prefix}{name}");
        let is_dir = std::fs::symlink_metadata(&path)
            .map_err(|source| crate::InputError::Io {
                path: path.clone(),
                source,
            })?
            .is_dir();
        if is_dir {
            walk(&path, &format!("{relative}/"), files)?;
        } else if !crate::is_temporary(&path) {
            files.push(relative);
        }
    }
    Ok(())
}
