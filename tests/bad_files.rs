//! The examples on bad files and folders: paths that are not regular files, folders that hold a
//! user's files, files of another model. Each ends in a clear error within seconds, nothing of
//! the user's is lost.

#![cfg(feature = "cli")]

mod common;

use std::path::Path;

use common::{mkfifo, ok, refused, refused_within, write_idx_files};

/// Paths that are not regular files — a FIFO where a CSV, a ratings file, a corpus, an IDX file
/// or a `config.json` is expected, `/dev/zero` behind a link, an image folder holding a link
/// back to itself — each end in a clear error within seconds, naming the path.
#[test]
fn special_files_and_link_loops_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    let out = at("out");
    let out = out.to_str().unwrap();
    let fifo = at("data.csv");
    mkfifo(&fifo);
    let fifo = fifo.to_str().unwrap();
    refused_within(
        10,
        "anomaly_tabular",
        &["--csv", fifo, "--out", out],
        "FIFO",
    );
    refused_within(10, "recommend", &["--ratings", fifo, "--out", out], "FIFO");
    refused_within(
        10,
        "text_autoencoder",
        &["--corpus", fifo, "--out", out],
        "FIFO",
    );

    let big = at("big.data");
    std::fs::write(&big, "1\t1\t4\t0\n".repeat(30)).unwrap();
    refused_within(
        10,
        "recommend",
        &[
            "--ratings",
            big.to_str().unwrap(),
            "--max-input-size",
            "100",
            "--out",
            out,
        ],
        "more than the 100 bytes allowed",
    );

    // A gzip file's limit is what it decompresses to (it was a fixed 2 GiB: a 457 KB file
    // took 1 GB of memory under `--max-input-size 1M`).
    let gz = at("gz");
    std::fs::create_dir(&gz).unwrap();
    write_idx_files(
        &gz,
        &[
            ("train-images-idx3-ubyte.gz", &[2000, 28, 28]),
            ("train-labels-idx1-ubyte.gz", &[2000]),
        ],
    );
    refused_within(
        10,
        "train_vanilla",
        &[
            "--dataset",
            "mnist",
            "--data-dir",
            gz.to_str().unwrap(),
            "--max-input-size",
            "100K",
            "--out",
            out,
        ],
        "decompresses to more than 102400 bytes",
    );

    let zero = at("u.data");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    refused_within(
        10,
        "recommend",
        &["--ratings", zero.to_str().unwrap(), "--out", out],
        "character device",
    );

    let model = at("model");
    std::fs::create_dir(&model).unwrap();
    mkfifo(&model.join("config.json"));
    refused_within(
        10,
        "compress",
        &["--model", model.to_str().unwrap(), "--out", out],
        "config.json is a FIFO",
    );

    let mnist = at("mnist");
    std::fs::create_dir(&mnist).unwrap();
    mkfifo(&mnist.join("train-images-idx3-ubyte"));
    std::fs::write(mnist.join("train-labels-idx1-ubyte"), b"").unwrap();
    refused_within(
        10,
        "train_vanilla",
        &[
            "--dataset",
            "mnist",
            "--data-dir",
            mnist.to_str().unwrap(),
            "--out",
            out,
        ],
        "FIFO",
    );

    let images = at("images");
    std::fs::create_dir_all(images.join("cats")).unwrap();
    std::os::unix::fs::symlink(&images, images.join("cats").join("again")).unwrap();
    refused_within(
        10,
        "train_vanilla",
        &[
            "--dataset",
            "image-folder",
            "--data-dir",
            images.to_str().unwrap(),
            "--out",
            out,
        ],
        "leads back to",
    );
}

/// A run folder owns only what it wrote: a user's files are named and never removed, a user's
/// `*.tmp` survives, `--out` inside `--data-dir` is refused, and a refused second run of an
/// application leaves its generated data file as it was.
#[test]
fn a_run_folder_owns_only_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = out.to_str().unwrap();
    let quick = [
        "--limit",
        "300",
        "--batch-size",
        "64",
        "--epochs",
        "1",
        "--out",
        run,
    ];
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.tmp"), "mine").unwrap();
    refused("train_vanilla", &quick, "notes.tmp");
    std::fs::remove_file(out.join("notes.tmp")).unwrap();
    ok("train_vanilla", &quick);

    // A user's files in a finished run's folder: named, and kept, with or without --overwrite.
    std::fs::write(out.join("notes.tmp"), "mine").unwrap();
    std::fs::create_dir_all(out.join("checkpoint")).unwrap();
    std::fs::write(out.join("checkpoint").join("my-copy.bpk"), "mine").unwrap();
    let mut overwrite = quick.to_vec();
    overwrite.push("--overwrite");
    refused("train_vanilla", &overwrite, "checkpoint/my-copy.bpk");
    assert!(out.join("notes.tmp").is_file() && out.join("model.bpk").is_file());
    std::fs::remove_file(out.join("checkpoint").join("my-copy.bpk")).unwrap();
    std::fs::remove_file(out.join("notes.tmp")).unwrap();
    ok("train_vanilla", &overwrite);

    // The output inside the data folder.
    let data = dir.path().join("images");
    std::fs::create_dir_all(data.join("a")).unwrap();
    let inside = data.join("runs").join("x");
    refused(
        "train_vanilla",
        &[
            "--dataset",
            "image-folder",
            "--data-dir",
            data.to_str().unwrap(),
            "--out",
            inside.to_str().unwrap(),
        ],
        "inside --data-dir",
    );

    // A refused second run does not rewrite the first one's generated data.
    let app = dir.path().join("tabular");
    let app_args = [
        "--rows",
        "600",
        "--epochs",
        "1",
        "--out",
        app.to_str().unwrap(),
    ];
    ok("anomaly_tabular", &app_args);
    let data_file = app.join("synthetic-kdd.data");
    let before = std::fs::metadata(&data_file).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    refused("anomaly_tabular", &app_args, "--overwrite");
    assert_eq!(
        std::fs::metadata(&data_file).unwrap().modified().unwrap(),
        before
    );
}

/// A sentence model folder whose vocab.json is not the model's (more tokens than its embeddings)
/// is refused by name instead of indexing past the embeddings.
#[test]
fn a_vocabulary_of_another_model_is_refused() {
    if !Path::new("/usr/share/games/fortunes").is_dir() {
        eprintln!("skipped: the fortunes corpus is not installed (apt-get install fortunes)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("text");
    let args = [
        "--max-sentences",
        "300",
        "--epochs",
        "1",
        "--hidden-dim",
        "16",
        "--out",
        out.to_str().unwrap(),
    ];
    ok("text_autoencoder", &args);
    let vocab_path = out.join("model").join("vocab.json");
    let mut vocab: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&vocab_path).unwrap()).unwrap();
    let tokens = vocab["tokens"].as_array_mut().unwrap();
    for i in 0..50 {
        tokens.push(format!("extra-token-{i}").into());
    }
    std::fs::write(&vocab_path, vocab.to_string()).unwrap();
    let model = out.join("model");
    refused(
        "text_autoencoder",
        &[
            "--max-sentences",
            "300",
            "--model",
            model.to_str().unwrap(),
            "--out",
            dir.path().join("query").to_str().unwrap(),
        ],
        "vocab.json holds",
    );
}
