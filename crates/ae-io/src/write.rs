//! Writing artifacts: through a temporary file beside the target and a rename, never over
//! something that is not a regular file.

use std::path::{Path, PathBuf};

use crate::{kind_of, record_written};

/// The suffix of the temporary files [`write_atomic`] writes through.
pub const TEMPORARY_SUFFIX: &str = "ae-tmp";

/// The temporary file an atomic write of `path` goes through, in the same folder:
/// `NAME.<process id>.ae-tmp`, a name no user file has by chance, so that leftovers of a killed
/// write can be told from a user's own `*.tmp` files ([`is_temporary`]).
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.{TEMPORARY_SUFFIX}", std::process::id()));
    path.with_file_name(name)
}

/// Whether `path` is a temporary file of [`temporary_path`]'s form (any process id), or the
/// temporary file a writer of Burn's makes beside one of them (`model-3.bpk.123.ae-tmp.123-4.tmp`:
/// burn-pack writes through `<path>.<pid>-<n>.tmp` itself).
pub fn is_temporary(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if let Some((ours, counter)) = name
        .strip_suffix(".tmp")
        .and_then(|rest| rest.rsplit_once('.'))
        && counter
            .split_once('-')
            .is_some_and(|(a, b)| is_number(a) && is_number(b))
        && is_temporary(Path::new(ours))
    {
        return true;
    }
    let Some(rest) = name.strip_suffix(TEMPORARY_SUFFIX) else {
        return false;
    };
    let Some(rest) = rest.strip_suffix('.') else {
        return false;
    };
    rest.rsplit_once('.')
        .is_some_and(|(stem, pid)| !stem.is_empty() && is_number(pid))
}

/// Whether `path` is a temporary file ([`is_temporary`]) whose writer is gone: the process id of
/// its outermost temporary name (a staged file's own write is its stager's) names no live
/// process. Linux only, where `/proc` says which processes live; elsewhere, and for this
/// process's own files, `false`. For folders no lock covers, where a live writer's file must stay.
pub fn is_left_by_dead_process(path: &Path) -> bool {
    let writer = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.split_once(&format!(".{TEMPORARY_SUFFIX}")))
        .and_then(|(named, _)| named.rsplit_once('.'))
        .and_then(|(_, pid)| pid.parse::<u32>().ok());
    let Some(pid) = writer else {
        return false;
    };
    is_temporary(path)
        && pid != std::process::id()
        && cfg!(target_os = "linux")
        && !Path::new("/proc").join(pid.to_string()).exists()
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Writes `bytes` to `path` through [`temporary_path`] and a rename, creating the folder if
/// needed: a reader sees the old file or the new one, never a part. The file is recorded as
/// written in the run folder above it, if any ([`record`](crate::record)).
///
/// # Errors
/// The operating system's error (the temporary file is removed), or an error of kind
/// `InvalidInput` when `path` is something other than a regular file (a device, a FIFO, a link,
/// a folder): the rename would replace it (`--json /dev/null` would delete the device node).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    check_replaceable(path)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    if path.file_name().is_none() {
        return Err(std::io::Error::other("the path has no file name"));
    }
    let tmp = temporary_path(path);
    // A write or rename that fails (a full disk) leaves no temporary file holding the space.
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
    record_written(path);
    Ok(())
}

/// Checks that `path` is absent or a regular file, which a rename may replace.
///
/// # Errors
/// `InvalidInput`, saying what `path` is.
pub fn check_replaceable(path: &Path) -> std::io::Result<()> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let kind = if metadata.file_type().is_symlink() {
        "a symbolic link"
    } else {
        kind_of(&metadata)
    };
    if metadata.file_type().is_file() {
        return Ok(());
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "it is {kind}, not a regular file; it was left as it is: name a regular file or a new one"
        ),
    ))
}
