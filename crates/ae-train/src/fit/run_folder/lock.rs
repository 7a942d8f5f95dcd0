//! One process per run folder: an advisory lock on its `.lock` file.

use std::fs;
use std::path::{Path, PathBuf};

use super::LOCK_FILE;
use crate::error::{Result, TrainError};

/// The lock of a run folder: an advisory lock (`flock`) on its `.lock` file, which holds the
/// owner's process id for the message of a refused run. The operating system releases it when
/// the process ends, however it ends, so a killed run's lock is never in the way; two runs
/// starting at once cannot both take it. Released (the file removed) when dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    file: fs::File,
}

impl RunLock {
    /// Takes the lock of `dir` (created if needed): fails when another process (or another
    /// lock of this one) holds it.
    ///
    /// # Errors
    /// [`TrainError::FolderInUse`], or an I/O error.
    pub fn acquire(dir: &Path) -> Result<Self> {
        if dir.exists() && !dir.is_dir() {
            return Err(TrainError::InvalidArgument {
                what: "run folder",
                message: format!(
                    "{} is a file: name a folder for the run (--out)",
                    dir.display()
                ),
            });
        }
        fs::create_dir_all(dir).map_err(|e| TrainError::write(dir, e))?;
        let path = dir.join(LOCK_FILE);
        let io = |e| TrainError::write(&path, e);
        // A lock file removed by its holder between our open and our lock is not the folder's
        // lock any more: open again.
        for _ in 0..8 {
            let mut file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(TrainError::FolderInUse {
                        dir: dir.to_path_buf(),
                        lock: path.clone(),
                        pid: holder(&path),
                    });
                }
                // A file system without locks (NFS without its lock service): the run goes on,
                // unprotected from another in the same folder, and says so.
                Err(fs::TryLockError::Error(e)) => log::warn!(
                    "cannot lock {} ({e}): another run in this folder would not be refused",
                    path.display()
                ),
            }
            if !same_file(&file, &path) {
                continue;
            }
            // The process id only names the holder in a refused run's message: a full disk
            // that keeps it from being written does not keep the lock from being held.
            use std::io::Write;
            let _ = file
                .set_len(0)
                .and_then(|()| write!(file, "{}", std::process::id()));
            return Ok(Self { path, file });
        }
        Err(TrainError::io(
            &path,
            std::io::Error::other("could not take the lock"),
        ))
    }
}

impl RunLock {
    /// Checks that the run folder is still where the lock was taken, once the run has written
    /// into it: a folder removed or moved meanwhile was re-created by the next write and holds
    /// only what came after (a run that seemed to end well would leave no model where it says).
    ///
    /// # Errors
    /// [`TrainError::Io`] naming the folder.
    pub fn check_in_place(&self) -> Result<()> {
        if same_file(&self.file, &self.path) {
            return Ok(());
        }
        Err(TrainError::io(
            self.path.parent().unwrap_or(Path::new(".")),
            std::io::Error::other(
                "the run folder was removed or moved while the run wrote into it; a folder of \
                 that name now holds only what came after: remove it, or use another --out, and \
                 train again",
            ),
        ))
    }
}

/// The process id a lock file holds (0 when it cannot be read: its holder is writing it).
fn holder(path: &Path) -> u32 {
    for _ in 0..20 {
        if let Some(pid) = ae_io::read_to_string(path, ae_io::Limit::JSON)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
        {
            return pid;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    0
}

/// Whether `path` still names the open `file`.
fn same_file(file: &fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked, and only if it is still this lock's file (the folder may
        // have been moved or replaced); the lock itself goes with the file handle.
        if same_file(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
    }
}
