//! What a run folder holds, what `--overwrite` removes and `--resume` adopts.

use super::*;
use serde_json::json;

#[test]
fn a_live_lock_refuses_and_a_stale_one_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let lock = RunLock::acquire(dir.path()).unwrap();
    let err = RunLock::acquire(dir.path()).unwrap_err();
    assert!(matches!(err, TrainError::FolderInUse { .. }), "{err}");
    assert!(err.to_string().contains("in use by this process"), "{err}");
    lock.check_in_place().unwrap();
    drop(lock);
    assert!(!dir.path().join(LOCK_FILE).exists());
    // A lock file left by a process that no longer exists holds no lock.
    fs::write(dir.path().join(LOCK_FILE), "4194304000").unwrap();
    let _lock = RunLock::acquire(dir.path()).unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap(),
        std::process::id().to_string()
    );
}

#[test]
fn a_run_folder_moved_under_its_lock_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let lock = RunLock::acquire(&run).unwrap();
    fs::rename(&run, dir.path().join("moved")).unwrap();
    fs::create_dir_all(&run).unwrap();
    let err = lock.check_in_place().unwrap_err().to_string();
    assert!(err.contains("removed or moved"), "{err}");
    drop(lock);
    // Its file in the moved folder is not removed in the new one's name.
    assert!(dir.path().join("moved").join(LOCK_FILE).exists());
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
    // Another variant of an enum is named as a whole (it said `penalty.Kl = null`).
    let kl = json!({"penalty": {"Kl": {"rho": 0.05}}});
    save_identity(dir.path(), &kl).unwrap();
    let l1 = json!({"penalty": {"L1": {"weight": 0.001}}});
    match check_identity(dir.path(), &l1).unwrap_err() {
        TrainError::RunMismatch {
            field,
            found,
            expected,
            ..
        } => {
            assert_eq!(field, "penalty");
            assert_eq!(found, r#"{"Kl":{"rho":0.05}}"#);
            assert_eq!(expected, r#"{"L1":{"weight":0.001}}"#);
        }
        e => panic!("{e}"),
    }
}

#[test]
fn only_our_leftovers_and_our_files_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    ae_io::start_record(dir.path()).unwrap();
    let ours = ae_io::temporary_path(&at("model.bpk"));
    fs::write(&ours, "x").unwrap();
    fs::write(at("notes.tmp"), "a user's").unwrap();
    remove_leftovers(dir.path());
    assert!(!ours.exists() && at("notes.tmp").exists());

    // What runs wrote (recorded, or logs) goes; the user's files stay, and are named.
    ae_io::write_atomic(&at("model.bpk"), b"weights").unwrap();
    ae_io::write_atomic(&at("checkpoint/model-1.bpk"), b"c").unwrap();
    fs::create_dir_all(at("train/epoch-1")).unwrap();
    fs::write(at("train/epoch-1/Loss.log"), "0.1").unwrap();
    fs::write(at("train/mine.txt"), "a user's").unwrap();
    fs::write(at("metrics.jsonl"), "{}").unwrap();
    assert_eq!(
        foreign_files(dir.path()).unwrap(),
        vec!["notes.tmp".to_string(), "train/mine.txt".to_string()]
    );
    let err = check_owned(dir.path()).unwrap_err().to_string();
    assert!(err.contains("notes.tmp, train/mine.txt"), "{err}");
    clear_run(dir.path()).unwrap();
    for gone in ["model.bpk", "checkpoint", "train/epoch-1", "metrics.jsonl"] {
        assert!(!at(gone).exists(), "{gone}");
    }
    assert!(at("notes.tmp").exists() && at("train/mine.txt").exists());
    assert_eq!(
        ae_io::read_record(dir.path()),
        Some(ae_io::RunRecord::default())
    );
    assert_ne!(checksum([1, 2]), checksum([2, 1]));
}

#[test]
fn a_folder_from_before_records_is_adopted_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    for name in ["fit.json", "model.bpk", "report.json", "user.csv"] {
        fs::write(at(name), "x").unwrap();
    }
    fs::create_dir_all(at("checkpoint")).unwrap();
    fs::write(at("checkpoint/optim-3.bpk"), "x").unwrap();
    assert_eq!(
        foreign_files(dir.path()).unwrap(),
        vec!["user.csv".to_string()]
    );
    adopt_for_resume(dir.path()).unwrap();
    let record = ae_io::read_record(dir.path()).unwrap();
    assert!(record.written.contains("checkpoint/optim-3.bpk"));
    assert!(record.found.contains("user.csv"));
    clear_run(dir.path()).unwrap();
    assert!(!at("model.bpk").exists() && at("user.csv").exists());
}

#[test]
fn starting_over_removes_an_applications_results_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    fs::write(at("notes.txt"), "a user's").unwrap();
    begin_app_folder(dir.path(), false).unwrap();
    // Results beside the model folder are recorded in the application's record; the model
    // folder's files in its own.
    ae_io::write_atomic(&at("compress.json"), b"{}").unwrap();
    ae_io::write_atomic(&at("pictures/grid.png"), b"png").unwrap();
    ae_io::start_record(&at("model")).unwrap();
    ae_io::write_atomic(&at("model/model.bpk"), b"weights").unwrap();
    let record = ae_io::read_record(dir.path()).unwrap();
    assert_eq!(
        record.written.iter().collect::<Vec<_>>(),
        ["compress.json", "pictures/grid.png"]
    );
    // A later run that does not start over keeps them (and its record).
    begin_app_folder(dir.path(), false).unwrap();
    assert!(at("compress.json").exists());
    begin_app_folder(dir.path(), true).unwrap();
    assert!(!at("compress.json").exists() && !at("pictures").exists());
    assert!(at("model/model.bpk").exists() && at("notes.txt").exists());
    assert_eq!(
        ae_io::read_record(dir.path()),
        Some(ae_io::RunRecord::default())
    );
    // Temporary files of killed writes go, a live process's (this one's) stay.
    let dead = at("compress.json.4000000.ae-tmp");
    let live = ae_io::temporary_path(&at("synthetic.data"));
    fs::write(&dead, "cut short").unwrap();
    fs::write(&live, "staged").unwrap();
    begin_app_folder(dir.path(), false).unwrap();
    assert!(!dead.exists() && live.exists());
    // A hand-made record naming a model file removes nothing of the model folder.
    fs::write(at(ae_io::record::RECORD_FILE), "wrote model/model.bpk\n").unwrap();
    begin_app_folder(dir.path(), true).unwrap();
    assert!(at("model/model.bpk").exists());
}
