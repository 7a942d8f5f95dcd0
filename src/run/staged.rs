//! A data file a run generates for itself (the synthetic ratings of `recommend`, the synthetic
//! table of `anomaly_tabular`), kept apart until the run is accepted.

use std::path::{Path, PathBuf};

use ae_data::DataError;
use ae_train::{Result, TrainError};

/// A file written beside its final name ([`StagedFile::path`]) and moved there by
/// [`StagedFile::commit`] once the run that reads it has been accepted: a refused run (a
/// `--resume` with another `--seed`, a batch larger than the data) leaves the earlier run's file
/// as it was. Dropped uncommitted, the staged file is removed.
#[derive(Debug)]
pub struct StagedFile {
    staged: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl StagedFile {
    /// A file to become `target`, written first at a temporary name beside it
    /// (`ae_io::temporary_path`, which the run folders' clean-up recognises).
    /// What a killed earlier process staged for the same target is removed first.
    pub fn new(target: &Path) -> Self {
        remove_stale(target);
        Self {
            staged: ae_io::temporary_path(target),
            target: target.to_path_buf(),
            committed: false,
        }
    }

    /// Where to write and read the file until it is committed.
    pub fn path(&self) -> &Path {
        &self.staged
    }

    /// The name the file takes.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes the file at its staged path with `write`. A failed write is an error naming the
    /// file by the name it takes (the staged name is the workspace's business, not the user's).
    ///
    /// # Errors
    /// `write`'s error; a file that cannot be written as [`TrainError::Write`] naming
    /// [`target`](Self::target).
    pub fn write(
        &self,
        write: impl FnOnce(&Path) -> std::result::Result<(), DataError>,
    ) -> Result<()> {
        write(&self.staged).map_err(|error| match error {
            DataError::Write { source, .. } => TrainError::Write {
                path: self.target.clone(),
                source,
            },
            other => other.into(),
        })
    }

    /// Moves the file to its name, replacing an earlier one.
    ///
    /// # Errors
    /// When the file cannot be renamed.
    pub fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.staged, &self.target).map_err(|source| TrainError::Write {
            path: self.target.clone(),
            source,
        })?;
        self.committed = true;
        // Listed with the results of the application folder, when it keeps a record.
        ae_io::record_written(&self.target);
        Ok(())
    }
}

/// Removes `target`'s staged files (`NAME.<pid>.ae-tmp`) whose process is gone: a run killed
/// before it committed its data file left one beside `--out`'s results. (Linux only, where
/// `/proc` says which processes live; a live process's staged file is its own.)
fn remove_stale(target: &Path) {
    #[cfg(target_os = "linux")]
    {
        let (Some(folder), Some(name)) = (
            target.parent(),
            target.file_name().and_then(|name| name.to_str()),
        ) else {
            return;
        };
        let folder = if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        };
        let Ok(entries) = std::fs::read_dir(folder) else {
            return;
        };
        for path in entries.flatten().map(|entry| entry.path()) {
            // `NAME.<pid>.ae-tmp`, or the temporary file of a write into it cut short
            // (`NAME.<pid>.ae-tmp.<pid>.ae-tmp`).
            let staged_for_target = path
                .file_name()
                .and_then(|file| file.to_str())
                .and_then(|file| file.strip_prefix(name)?.strip_prefix('.'))
                .and_then(|rest| rest.split_once('.'))
                .is_some_and(|(pid, _)| pid.bytes().all(|b| b.is_ascii_digit()));
            if staged_for_target && ae_io::is_left_by_dead_process(&path) && path.is_file() {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = target;
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.staged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_file_replaces_its_target_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("synthetic.data");
        std::fs::write(&target, "earlier run").unwrap();
        let refused = StagedFile::new(&target);
        std::fs::write(refused.path(), "refused run").unwrap();
        drop(refused);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "earlier run");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let accepted = StagedFile::new(&target);
        std::fs::write(accepted.path(), "accepted run").unwrap();
        accepted.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "accepted run");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A write that fails (here: into a folder that does not exist) names the file the user
    /// will look for, not its staged name.
    #[test]
    fn a_failed_write_names_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("gone").join("synthetic.data");
        let staged = StagedFile::new(&target);
        let error = staged
            .write(|path| {
                std::fs::write(path, "rows").map_err(|source| DataError::Write {
                    path: path.to_path_buf(),
                    source,
                })
            })
            .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, TrainError::Write { .. }), "{message}");
        assert!(message.starts_with(&format!("cannot write {}: ", target.display())));
        assert!(!message.contains("ae-tmp"), "{message}");
    }

    /// What a killed process staged is removed by the next run's staging; a user's file of a
    /// like name stays.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_killed_runs_staged_file_goes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("synthetic.data");
        // No process has this id (above Linux's largest, 2^22).
        let stale = dir.path().join("synthetic.data.4000000.ae-tmp");
        let cut_short = dir
            .path()
            .join("synthetic.data.4000000.ae-tmp.4000000.ae-tmp");
        let user = dir.path().join("synthetic.data.backup");
        std::fs::write(&stale, "killed run").unwrap();
        std::fs::write(&cut_short, "killed in a write").unwrap();
        std::fs::write(&user, "mine").unwrap();
        let staged = StagedFile::new(&target);
        assert!(!stale.exists() && !cut_short.exists());
        assert!(user.exists());
        drop(staged);
    }
}
