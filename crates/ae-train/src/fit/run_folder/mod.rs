//! Owning a run folder: one process at a time (a lock file), leftovers of killed writes
//! removed, and the run's identity (`fit.json`) checked before a resume or a fresh start.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::loaders::TrainingSplit;
use crate::error::{Result, TrainError};

mod lock;
pub use lock::RunLock;

/// The lock file in a run folder, holding the owner's process id.
pub const LOCK_FILE: &str = ".lock";
/// The identity file of a run folder: what defines the run (the model's configuration, the
/// data, the training settings but the number of epochs).
pub const IDENTITY_FILE: &str = "fit.json";

/// Removes the temporary files a killed write of this workspace left in `dir` (named by
/// [`ae_io::temporary_path`], not recursive): under the lock, no other writer can own them. A
/// user's own `*.tmp` files are left alone.
pub fn remove_leftovers(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if ae_io::is_temporary(&path) && path.is_file() {
            log::warn!("removing {} left by an interrupted write", path.display());
            let _ = fs::remove_file(path);
        }
    }
}

/// [`remove_leftovers`] in a folder no lock covers: only the temporary files of processes that
/// are gone ([`ae_io::is_left_by_dead_process`]).
fn remove_dead_leftovers(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|entry| entry.path()) {
        if ae_io::is_left_by_dead_process(&path) && path.is_file() {
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

/// The files of a run that are not written through [`ae_io::write_atomic`] (burn-train's and
/// this workspace's logs), and so not in the record: `metrics.jsonl`, `experiment.log`,
/// `train/epoch-N/*.log`, `valid/epoch-N/*.log`.
fn is_run_log(relative: &str) -> bool {
    if matches!(relative, "metrics.jsonl" | "experiment.log") {
        return true;
    }
    let parts: Vec<&str> = relative.split('/').collect();
    matches!(parts.as_slice(), [split, epoch, log]
        if matches!(*split, "train" | "valid")
            && epoch.strip_prefix("epoch-").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            && log.ends_with(".log"))
}

/// The files of a run folder written before the record existed (a folder of an earlier version
/// of this workspace): the run's identity, model, report, pictures and checkpoints.
fn is_unrecorded_artifact(relative: &str) -> bool {
    if matches!(
        relative,
        "fit.json"
            | "run.json"
            | "config.json"
            | "model.bpk"
            | "report.json"
            | "reconstructions.png"
    ) {
        return true;
    }
    relative
        .strip_prefix("checkpoint/")
        .and_then(super::checkpoint::checkpoint_file)
        .is_some()
}

/// The files of `dir` its runs wrote: those in its record (or, in a folder without one that
/// holds a run, the artifacts every run writes), and the runs' logs.
pub fn run_files(dir: &Path) -> Result<Vec<String>> {
    let record = ae_io::read_record(dir);
    let legacy = record.is_none() && dir.join(IDENTITY_FILE).is_file();
    Ok(ae_io::record::files_under(dir)?
        .into_iter()
        .filter(|file| {
            is_run_log(file)
                || record.as_ref().is_some_and(|r| r.written.contains(file))
                || (legacy && is_unrecorded_artifact(file))
        })
        .collect())
}

/// The files of `dir` that no run of this workspace wrote (hidden files aside), as the record
/// says.
pub fn foreign_files(dir: &Path) -> Result<Vec<String>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let ours: std::collections::BTreeSet<String> = run_files(dir)?.into_iter().collect();
    let found = ae_io::read_record(dir).map(|r| r.found).unwrap_or_default();
    Ok(ae_io::record::files_under(dir)?
        .into_iter()
        .filter(|file| !ours.contains(file) && !found.contains(file))
        .collect())
}

/// Refuses a run folder that holds the current folder (`..`, `/`), or is the current folder
/// while that holds anything but a run (`.` in a project): a run owns its folder (a lock and a
/// record go in, `--overwrite` empties it of what runs wrote), and the walk of what it holds
/// would list the whole tree below. (`cd runs/x` and `--resume --out .` stays possible.)
///
/// # Errors
/// [`TrainError::InvalidArgument`] naming `--out`.
pub fn check_not_above_working_dir(dir: &Path) -> Result<()> {
    let (Ok(folder), Ok(working)) = (
        dir.canonicalize(),
        std::env::current_dir().and_then(|d| d.canonicalize()),
    ) else {
        // A folder that does not exist yet holds nothing.
        return Ok(());
    };
    let a_run_or_nothing = || {
        folder.join(ae_io::record::RECORD_FILE).is_file()
            || std::fs::read_dir(&folder).is_ok_and(|mut entries| entries.next().is_none())
    };
    if working.starts_with(&folder) && !(working == folder && a_run_or_nothing()) {
        let place = if working == folder {
            "the current folder"
        } else {
            "above the current folder"
        };
        return Err(TrainError::InvalidArgument {
            what: "--out",
            message: format!(
                "{} is {place}: a run owns its folder; name a folder of its own, e.g. runs/NAME",
                dir.display()
            ),
        });
    }
    Ok(())
}

/// The checks [`fit`](crate::fit) makes of a run folder before it writes anything, without
/// writing anything: for a program that writes files of its own beside the run first (generated
/// data), so that a run `fit` would refuse leaves them alone.
///
/// # Errors
/// [`TrainError::FolderHoldsRun`] (an earlier run, without `overwrite` or `resume`) or
/// [`TrainError::FolderHoldsOtherFiles`].
pub fn check_run_folder(dir: &Path, resume: bool, overwrite: bool) -> Result<()> {
    check_not_above_working_dir(dir)?;
    if resume || !dir.is_dir() {
        return Ok(());
    }
    let checkpoint_dir = dir.join("checkpoint");
    let earlier = earlier_run(dir, &checkpoint_dir).or_else(|| {
        let files = run_files(dir).ok().filter(|f| !f.is_empty())?;
        Some(format!("files of an earlier run: {}", files.join(", ")))
    });
    if let (Some(what), false) = (earlier, overwrite) {
        return Err(TrainError::FolderHoldsRun {
            dir: dir.to_path_buf(),
            what,
            resumable: super::checkpoint::latest_complete_checkpoint(&checkpoint_dir).is_some(),
        });
    }
    check_owned(dir)
}

/// Before a resume: a folder without a record (from an earlier version) gets one listing the
/// run's artifacts, and the files no run wrote are recorded as found, so that a later
/// `--overwrite` leaves them.
///
/// # Errors
/// The operating system's error.
pub fn adopt_for_resume(dir: &Path) -> Result<()> {
    let io = |e| TrainError::io(dir, e);
    if ae_io::read_record(dir).is_none() {
        let ours = run_files(dir)?;
        ae_io::start_record(dir).map_err(io)?;
        for file in ours {
            ae_io::record_written(&dir.join(file));
        }
    }
    let foreign = foreign_files(dir)?;
    if !foreign.is_empty() {
        ae_io::record_found(dir, &foreign).map_err(io)?;
    }
    Ok(())
}

/// Refuses a fresh start in `dir` while it holds files no run of this workspace wrote.
///
/// # Errors
/// [`TrainError::FolderHoldsOtherFiles`] naming (up to ten of) them.
pub fn check_owned(dir: &Path) -> Result<()> {
    let foreign = foreign_files(dir)?;
    if foreign.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = foreign.iter().take(10).map(String::as_str).collect();
    Err(TrainError::FolderHoldsOtherFiles {
        dir: dir.to_path_buf(),
        files: format!(
            "{}{}",
            shown.join(", "),
            if foreign.len() > 10 {
                format!(" and {} more", foreign.len() - 10)
            } else {
                String::new()
            }
        ),
    })
}

/// Deletes what the folder's runs wrote (its record's files, the logs; in a folder from before
/// records, the artifacts every run writes) and the folders that leaves empty, and starts a new,
/// empty record. Anything else in the folder stays: a fresh start is refused while there is any
/// ([`check_owned`]).
pub fn clear_run(dir: &Path) -> Result<()> {
    for relative in run_files(dir)? {
        remove_with_empty_parents(dir, &dir.join(&relative))?;
    }
    ae_io::start_record(dir).map_err(|e| TrainError::write(dir, e))
}

/// Removes `path`, and the folders below `dir` it was in when it was their last entry.
fn remove_with_empty_parents(dir: &Path, path: &Path) -> Result<()> {
    fs::remove_file(path).map_err(|e| TrainError::io(path, e))?;
    let mut parent = path.parent();
    while let Some(folder) = parent.filter(|p| *p != dir) {
        if fs::remove_dir(folder).is_err() {
            break;
        }
        parent = folder.parent();
    }
    Ok(())
}

/// An application's folder, around the model folders it trains (`compress`'s `model/`,
/// `compare_pca`'s `ae-8/`), holding the results it writes after training beside them
/// (`compress.json`, pictures): its own record lists those results, so that a run starting over
/// (`start_over`, i.e. `--overwrite`) removes the earlier run's results with its model, before it
/// writes anything. A killed `--overwrite` run then never leaves the earlier results beside a
/// new model. The model folders have records of their own and are left to [`fit`](super::fit);
/// files the workspace did not write stay. Without `start_over` the record is only started
/// (the results of an earlier run are replaced as the new ones are written). Temporary files of
/// killed writes go either way.
///
/// # Errors
/// The operating system's error, naming the file.
pub fn begin_app_folder(dir: &Path, start_over: bool) -> Result<()> {
    let io = |e| TrainError::io(dir, e);
    // What a killed write of an earlier run left (`compress.json.<pid>.ae-tmp`); no lock
    // covers the folder itself, so only files of processes that are gone.
    remove_dead_leftovers(dir);
    let Some(record) = ae_io::read_record(dir) else {
        return ae_io::start_record(dir).map_err(io);
    };
    if !start_over {
        return Ok(());
    }
    for relative in ae_io::record::files_under(dir)? {
        if !record.written.contains(&relative) || in_own_run_folder(dir, &relative) {
            continue;
        }
        remove_with_empty_parents(dir, &dir.join(&relative))?;
    }
    ae_io::start_record(dir).map_err(io)
}

/// Whether `relative` lies in a folder below `dir` with a record of its own (a model folder).
fn in_own_run_folder(dir: &Path, relative: &str) -> bool {
    let mut folder = Path::new(relative).parent();
    while let Some(inner) = folder.filter(|f| !f.as_os_str().is_empty()) {
        if dir.join(inner).join(ae_io::record::RECORD_FILE).is_file() {
            return true;
        }
        folder = inner.parent();
    }
    false
}

/// The first place where `found` and `expected` differ, as a dotted path with both values.
fn first_difference(
    path: &str,
    found: &Value,
    expected: &Value,
) -> Option<(String, String, String)> {
    match (found, expected) {
        // Another variant of an enum (`{"Kl": {..}}` against `{"L1": {..}}`): the setting
        // differs as a whole, not in a field of one variant (`penalty.Kl = null`).
        (Value::Object(a), Value::Object(b))
            if a.len() == 1 && b.len() == 1 && a.keys().ne(b.keys()) =>
        {
            Some((path.to_string(), found.to_string(), expected.to_string()))
        }
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
    let saved = read_identity(dir)?;
    match first_difference("", &saved, &as_read_back(identity)) {
        None => Ok(()),
        Some((field, found, expected)) => Err(TrainError::RunMismatch {
            dir: dir.to_path_buf(),
            field,
            found,
            expected,
        }),
    }
}

/// The run identity saved in `dir`'s `fit.json`.
fn read_identity(dir: &Path) -> Result<Value> {
    let path = dir.join(IDENTITY_FILE);
    let text = ae_io::read_to_string(&path, ae_io::Limit::JSON)?;
    serde_json::from_str(&text).map_err(|e| TrainError::BadCheckpoint {
        path,
        message: format!("not a run identity: {e}"),
    })
}

/// `value` as it reads back from its JSON text, to compare with one read from a file:
/// serde_json's float parsing does not always give back the bits it printed.
fn as_read_back(value: &Value) -> Value {
    serde_json::to_string(value)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| value.clone())
}

/// Checks that the model `fit` trained into `dir` was trained on `train` (the training split its
/// `fit.json` records): a model of an earlier run scored on another file, or on another split of
/// the same file, would be scored on items it trained on. A folder without `fit.json` (a model
/// saved by hand) is not checked.
///
/// # Errors
/// [`TrainError::InvalidArgument`] naming `--model`, the field that differs and what to pass;
/// [`TrainError::BadCheckpoint`] for a `fit.json` that is not one.
pub fn check_trained_on<B, S: TrainingSplit<B>>(dir: &Path, train: &S) -> Result<()> {
    if !dir.join(IDENTITY_FILE).is_file() {
        return Ok(());
    }
    let saved = read_identity(dir)?;
    match first_difference("train", &saved["train"], &as_read_back(&train.identity())) {
        None => Ok(()),
        Some((field, found, expected)) => Err(TrainError::InvalidArgument {
            what: "--model",
            message: format!(
                "{} was trained on another training split ({field} = {found}, this run's = \
                 {expected}): its test figures here would include items it trained on; pass \
                 the data, --seed and --test-fraction it was trained with, or train a model on \
                 this data",
                dir.display()
            ),
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

pub use ae_io::checksum;

#[cfg(test)]
mod tests;
