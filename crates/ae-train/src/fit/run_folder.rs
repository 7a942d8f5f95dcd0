//! Owning a run folder: one process at a time (a lock file), leftovers of killed writes
//! removed, and the run's identity (`fit.json`) checked before a resume or a fresh start.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Result, TrainError};

/// The lock file in a run folder, holding the owner's process id.
pub const LOCK_FILE: &str = ".lock";
/// The identity file of a run folder: what defines the run (the model's configuration, the
/// data, the training settings but the number of epochs).
pub const IDENTITY_FILE: &str = "fit.json";

/// Whether process `pid` is alive (Linux: `/proc/<pid>`; elsewhere a lock is trusted unless its
/// process is this one).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// The lock of a run folder, released (the file removed) when dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of `dir` (created if needed): fails when a live process holds it; takes
    /// over a lock whose process is gone.
    ///
    /// # Errors
    /// [`TrainError::FolderInUse`], or an I/O error.
    pub fn acquire(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    use std::io::Write;
                    write!(file, "{}", std::process::id()).map_err(|e| TrainError::io(&path, e))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = ae_io::read_to_string(&path, ae_io::Limit::JSON)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if alive(pid) => {
                            return Err(TrainError::FolderInUse {
                                dir: dir.to_path_buf(),
                                lock: path,
                                pid,
                            });
                        }
                        // A stale lock (its process is gone) or an unreadable one: take over.
                        _ => {
                            log::warn!("removing the stale lock {}", path.display());
                            let _ = fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(TrainError::io(&path, e)),
            }
        }
        Err(TrainError::io(
            &path,
            std::io::Error::other("could not take the lock"),
        ))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Removes the temporary files a killed write left in `dir` (`*.tmp`, not recursive): under the
/// lock, no other writer can own them.
pub fn remove_leftovers(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "tmp") && path.is_file() {
            log::warn!("removing {} left by an interrupted write", path.display());
            let _ = fs::remove_file(path);
        }
    }
}

/// What the folder already holds of an earlier run, for the error of a fresh start.
pub fn earlier_run(dir: &Path, checkpoint_dir: &Path) -> Option<String> {
    if let Some(epoch) = super::checkpoint::latest_complete_checkpoint(checkpoint_dir) {
        return Some(format!("checkpoints up to epoch {epoch}"));
    }
    dir.join(IDENTITY_FILE)
        .is_file()
        .then(|| format!("its {IDENTITY_FILE}"))
}

/// Deletes what a run writes into its folder (checkpoints, epoch logs, burn-train's logs and the
/// identity file), leaving anything else the user put there.
pub fn clear_run(dir: &Path) -> Result<()> {
    for name in ["checkpoint", "train", "valid"] {
        let path = dir.join(name);
        if path.is_dir() {
            fs::remove_dir_all(&path).map_err(|e| TrainError::io(&path, e))?;
        }
    }
    for name in [IDENTITY_FILE, "metrics.jsonl", "experiment.log"] {
        let path = dir.join(name);
        if path.is_file() {
            fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
        }
    }
    Ok(())
}

/// The first place where `found` and `expected` differ, as a dotted path with both values.
fn first_difference(
    path: &str,
    found: &Value,
    expected: &Value,
) -> Option<(String, String, String)> {
    match (found, expected) {
        (Value::Object(a), Value::Object(b)) => {
            // `kind` first: another kind of model is the difference to name.
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort_by_key(|k| (k.as_str() != "kind", k.as_str()));
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                first_difference(
                    &child,
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                )
            })
        }
        (a, b) if a == b => None,
        (a, b) => Some((path.to_string(), a.to_string(), b.to_string())),
    }
}

/// Checks that the identity saved in `dir` is `identity`.
///
/// # Errors
/// [`TrainError::RunMismatch`] naming the first field that differs; an I/O or parse error of
/// the file.
pub fn check_identity(dir: &Path, identity: &Value) -> Result<()> {
    let path = dir.join(IDENTITY_FILE);
    let text = ae_io::read_to_string(&path, ae_io::Limit::JSON)?;
    let saved: Value = serde_json::from_str(&text).map_err(|e| TrainError::BadCheckpoint {
        path: path.clone(),
        message: format!("not a run identity: {e}"),
    })?;
    // Compared as read back from JSON text on both sides: serde_json's float parsing does not
    // always give back the bits it printed.
    let expected: Value = serde_json::to_string(identity)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| identity.clone());
    match first_difference("", &saved, &expected) {
        None => Ok(()),
        Some((field, found, expected)) => Err(TrainError::RunMismatch {
            dir: dir.to_path_buf(),
            field,
            found,
            expected,
        }),
    }
}

/// Writes `identity` as the folder's `fit.json`.
pub fn save_identity(dir: &Path, identity: &Value) -> Result<()> {
    let json = serde_json::to_string_pretty(identity).map_err(|e| TrainError::InvalidArgument {
        what: "run identity",
        message: e.to_string(),
    })?;
    ae_models::persist::write_atomic(&dir.join(IDENTITY_FILE), json.as_bytes())?;
    Ok(())
}

/// A checksum of bytes (FNV-1a, 64 bits): enough to tell two datasets apart in an identity.
pub fn checksum(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_live_lock_refuses_and_a_stale_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let lock = RunLock::acquire(dir.path()).unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, TrainError::FolderInUse { .. }), "{err}");
        drop(lock);
        assert!(!dir.path().join(LOCK_FILE).exists());
        // A lock left by a process that no longer exists.
        fs::write(dir.path().join(LOCK_FILE), "4194304000").unwrap();
        let _lock = RunLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn identities_are_compared_field_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let saved = json!({"model": {"kind": "vanilla", "config": {"latent_dim": 32}}});
        save_identity(dir.path(), &saved).unwrap();
        check_identity(dir.path(), &saved).unwrap();
        let other = json!({"model": {"kind": "vanilla", "config": {"latent_dim": 16}}});
        match check_identity(dir.path(), &other).unwrap_err() {
            TrainError::RunMismatch {
                field,
                found,
                expected,
                ..
            } => {
                assert_eq!(field, "model.config.latent_dim");
                assert_eq!((found.as_str(), expected.as_str()), ("32", "16"));
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn leftovers_and_runs_are_cleared() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("model.bpk.123.tmp"), "x").unwrap();
        fs::write(dir.path().join("keep.txt"), "x").unwrap();
        remove_leftovers(dir.path());
        assert!(!dir.path().join("model.bpk.123.tmp").exists());
        fs::create_dir_all(dir.path().join("checkpoint")).unwrap();
        fs::write(dir.path().join("metrics.jsonl"), "x").unwrap();
        clear_run(dir.path()).unwrap();
        assert!(!dir.path().join("checkpoint").exists());
        assert!(!dir.path().join("metrics.jsonl").exists());
        assert!(dir.path().join("keep.txt").exists());
        assert_ne!(checksum([1, 2]), checksum([2, 1]));
    }
}
