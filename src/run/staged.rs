//! A data file a run generates for itself (the synthetic ratings of `recommend`, the synthetic
//! table of `anomaly_tabular`), kept apart until the run is accepted.

use std::path::{Path, PathBuf};

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
    pub fn new(target: &Path) -> Self {
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

    /// Moves the file to its name, replacing an earlier one.
    ///
    /// # Errors
    /// When the file cannot be renamed.
    pub fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.staged, &self.target).map_err(|source| TrainError::Io {
            path: self.target.clone(),
            source,
        })?;
        self.committed = true;
        Ok(())
    }
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
}
