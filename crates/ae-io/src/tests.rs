//! Special files made by the tests themselves, limits just past each size, link loops.

use super::*;
use proptest::prelude::*;
use std::time::{Duration, Instant};

const SMALL: Limit = Limit::new(10, "a test file", "write less");

/// Runs `f` and fails if it takes more than a few seconds (a FIFO would block forever).
fn quickly<T>(f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    value
}

fn make_fifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the file.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("data.csv");
    make_fifo(&fifo);
    for result in [
        quickly(|| read(&fifo, Limit::JSON).map(|_| ())),
        quickly(|| open(&fifo, Limit::JSON).map(|_| ())),
        quickly(|| check_file(&fifo, Limit::JSON).map(|_| ())),
    ] {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        assert_eq!(err.path(), fifo);
    }
}

#[test]
fn devices_and_links_to_them_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ratings.csv");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    for path in [Path::new("/dev/zero"), link.as_path()] {
        let err = quickly(|| read(path, Limit::data())).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
    }
}

#[test]
fn folders_and_missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = read(dir.path(), SMALL).unwrap_err();
    assert!(err.to_string().contains("is a folder"), "{err}");
    let missing = dir.path().join("missing.json");
    let err = read(&missing, SMALL).unwrap_err();
    assert!(matches!(err, InputError::Io { .. }), "{err}");
    assert!(err.to_string().contains("missing.json"), "{err}");
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = read_dir(&file, None).unwrap_err();
    assert!(err.to_string().contains("not a folder"), "{err}");
    check_folder(dir.path()).unwrap();
}

#[test]
fn the_limit_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file");
    std::fs::write(&path, [7u8; 10]).unwrap();
    assert_eq!(read(&path, SMALL).unwrap(), vec![7u8; 10]);
    std::fs::write(&path, [7u8; 11]).unwrap();
    let err = read(&path, SMALL).unwrap_err();
    assert!(
        err.to_string()
            .contains("11 bytes, more than the 10 bytes allowed for a test file: write less"),
        "{err}"
    );
    // Read through `open`, the limit holds too.
    let mut bytes = Vec::new();
    let err = open(&path, Limit::new(20, "x", "y"))
        .unwrap()
        .take(100)
        .read_to_end(&mut bytes);
    assert!(err.is_ok() && bytes.len() == 11);
}

#[test]
fn link_loops_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let err = quickly(|| read(&a, SMALL)).unwrap_err();
    assert!(matches!(err, InputError::LinkLoop { .. }), "{err}");

    // A folder holding a link to itself: a walk stops at the second visit.
    let root = dir.path().join("images");
    std::fs::create_dir(&root).unwrap();
    std::os::unix::fs::symlink(&root, root.join("again")).unwrap();
    let mut visited = Visited::new();
    let entries = read_dir(&root, Some(&mut visited)).unwrap();
    assert_eq!(entries, vec![root.join("again")]);
    let err = read_dir(&entries[0], Some(&mut visited)).unwrap_err();
    assert!(err.to_string().contains("leads back to"), "{err}");
}

#[test]
fn hidden_entries_are_skipped_and_the_rest_sorted() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["b", "a", ".ipynb_checkpoints", ".thumbnails"] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
    }
    let entries = read_dir(dir.path(), None).unwrap();
    assert_eq!(entries, vec![dir.path().join("a"), dir.path().join("b")]);
}

#[test]
fn text_must_be_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, [b'{', 0xff, b'}']).unwrap();
    let err = read_to_string(&path, Limit::JSON).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
}

proptest! {
    #[test]
    fn reads_exactly_the_files_within_the_limit(len in 0usize..300, limit in 0u64..300) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        let content: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        match read(&path, Limit::new(limit, "x", "y")) {
            Ok(bytes) => prop_assert!(len as u64 <= limit && bytes == content),
            Err(InputError::TooLarge { size, .. }) => {
                prop_assert!(len as u64 > limit && size == len as u64)
            }
            Err(other) => prop_assert!(false, "{other}"),
        }
    }
}

#[test]
fn temporary_files_are_ours_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.bpk");
    let tmp = temporary_path(&path);
    assert!(is_temporary(&tmp), "{}", tmp.display());
    assert!(is_temporary(Path::new(
        "model-220.bpk.16425.ae-tmp.16425-657.tmp"
    )));
    for user in [
        "notes.tmp",
        "model.bpk.16425-657.tmp",
        "model-2.bpk.1.ae-tmp.x-1.tmp",
        "model.bpk.tmp",
        "x.ae-tmp",
        "a.b.ae-tmp",
        ".12.ae-tmp",
    ] {
        assert!(!is_temporary(Path::new(user)), "{user}");
    }
    write_atomic(&path, b"new").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    assert!(!tmp.exists());
    write_atomic(&dir.path().join("sub/dir/file.json"), b"{}").unwrap();
    assert!(dir.path().join("sub/dir/file.json").is_file());
}

#[test]
fn writes_never_replace_what_is_not_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    make_fifo(&fifo);
    let target = dir.path().join("target.json");
    std::fs::write(&target, b"kept").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    for (path, kind) in [
        (fifo.as_path(), "a FIFO"),
        (link.as_path(), "a symbolic link"),
        (folder.as_path(), "a folder"),
        (Path::new("/dev/null"), "a character device"),
    ] {
        let err = write_atomic(path, b"{}").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{path:?}");
        assert!(err.to_string().contains(kind), "{path:?}: {err}");
        assert!(!temporary_path(path).exists());
    }
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"kept");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    write_atomic(&target, b"new").unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"new");
}
