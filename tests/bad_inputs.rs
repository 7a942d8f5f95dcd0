//! The examples on bad input, as a user or an adversary would give it: every run exits with a
//! failure code, prints no panic, and names the flag, field or file at fault. (The example
//! binaries are the ones `cargo test` builds beside this test.)

#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder of the example binaries built with this test.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join("examples")
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
}

fn run(example: &str, args: &[&str]) -> Outcome {
    let path = examples_dir().join(example);
    assert!(
        path.is_file(),
        "{} is missing: build the examples (cargo test builds them)",
        path.display()
    );
    let output = Command::new(&path)
        .args(args)
        .env("AE_PROGRESS", "plain")
        .output()
        .expect("the example runs");
    Outcome {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs and checks: a failure exit code (not a crash by signal), no panic, `needle` in stderr.
fn refused(example: &str, args: &[&str], needle: &str) {
    let outcome = run(example, args);
    let shown = format!("{example} {args:?}:\n{}", outcome.stderr);
    assert!(
        matches!(outcome.code, Some(c) if c != 0),
        "exit {:?} for {shown}",
        outcome.code
    );
    assert!(!outcome.stderr.contains("panicked"), "a panic for {shown}");
    assert!(outcome.stderr.contains(needle), "no `{needle}` for {shown}");
}

fn ok(example: &str, args: &[&str]) {
    let outcome = run(example, args);
    assert_eq!(
        outcome.code,
        Some(0),
        "{example} {args:?}:\n{}",
        outcome.stderr
    );
}

#[test]
fn flags_out_of_range_name_the_flag() {
    for (args, flag) in [
        (&["--epochs", "0"][..], "--epochs"),
        (&["--batch-size", "1000000000000"], "--batch-size"),
        (&["--latent-dim", "1000000000"], "--latent-dim"),
        (&["--hidden", "4000000000"], "--hidden"),
        (&["--adam-epsilon", "-1"], "--adam-epsilon"),
        (&["--adam-epsilon", "0"], "--adam-epsilon"),
        (&["--adam-epsilon", "NaN"], "--adam-epsilon"),
        (&["--lr", "NaN"], "--lr"),
        (&["--limit", "0"], "--limit"),
        (&["--valid-fraction", "1"], "--valid-fraction"),
        (&["--device", "tpu"], "tpu"),
        (&["--data-dir", "/tmp"], "--data-dir"),
        (&["--dataset", "cifar"], "cifar"),
    ] {
        refused("train_vanilla", args, flag);
    }
    refused("generate", &["--grid", "100000"], "--grid");
    refused("generate", &["--span", "NaN"], "--span");
    refused("latent_classify", &["--fractions", "0"], "--fractions");
    refused("latent_classify", &["--fractions", "2"], "--fractions");
    refused("latent_classify", &["--k", "0"], "--k");
    refused("impute", &["--fraction", "0"], "--fraction");
    refused("backend_bench", &["--reps", "0"], "--reps");
    refused("backend_bench", &["--matmul-size", "0"], "--matmul-size");
    refused("train_conv", &["--kernel-size", "4"], "kernel_size");
    refused("train_vae", &["--beta", "-1"], "--beta");
    refused(
        "text_autoencoder",
        &["--test-fraction", "1"],
        "--test-fraction",
    );
    refused("recommend", &["--weight-decay", "-1"], "--weight-decay");
}

/// Train images of 14x14, test images of 28x28: refused at load, naming both shapes.
#[test]
fn splits_of_different_shapes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, dims: &[usize]| {
        let n: usize = dims.iter().product();
        ae_data::idx::write_idx(&dir.path().join(name), dims, &vec![0u8; n]).unwrap();
    };
    write("train-images-idx3-ubyte", &[20, 14, 14]);
    write("train-labels-idx1-ubyte", &[20]);
    write("t10k-images-idx3-ubyte", &[10, 28, 28]);
    write("t10k-labels-idx1-ubyte", &[10]);
    let data = dir.path().to_str().unwrap();
    refused(
        "train_vanilla",
        &[
            "--dataset",
            "mnist",
            "--data-dir",
            data,
            "--epochs",
            "1",
            "--batch-size",
            "4",
        ],
        "1x28x28",
    );
}

/// `--resume` on another run, too few epochs, a truncated checkpoint; a fresh run into a folder
/// that holds a run.
#[test]
fn resume_refuses_what_is_not_this_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    let quick = ["--limit", "600", "--batch-size", "128"];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        let mut args: Vec<&str> = quick.to_vec();
        args.extend(["--out", out]);
        args.extend(extra);
        args
    };
    ok("train_vanilla", &with(&["--epochs", "2"]));
    refused("train_vanilla", &with(&["--epochs", "3"]), "--overwrite");
    refused(
        "train_vanilla",
        &with(&["--epochs", "3", "--latent-dim", "16", "--resume"]),
        "latent_dim",
    );
    refused(
        "train_vanilla",
        &with(&["--epochs", "3", "--lr", "0.01", "--resume"]),
        "learning_rate",
    );
    refused("train_vae", &with(&["--epochs", "3", "--resume"]), "kind");
    refused(
        "train_vanilla",
        &with(&["--epochs", "2", "--resume"]),
        "--epochs 3",
    );
    // The newest checkpoint cut short (a truncated file): a typed error, not burn-train's panic.
    let checkpoint = Path::new(out).join("checkpoint").join("model-2.bpk");
    let bytes = std::fs::read(&checkpoint).unwrap();
    std::fs::write(&checkpoint, &bytes[..bytes.len() / 2]).unwrap();
    refused(
        "train_vanilla",
        &with(&["--epochs", "3", "--resume"]),
        "model-2.bpk",
    );
    ok("train_vanilla", &with(&["--epochs", "1", "--overwrite"]));
}

/// A learning rate that blows the weights up: an error saying where, no model written.
#[test]
fn divergence_is_an_error_and_writes_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    refused(
        "train_vanilla",
        &[
            "--limit",
            "600",
            "--epochs",
            "2",
            "--lr",
            "1e12",
            "--out",
            out.to_str().unwrap(),
        ],
        "diverged",
    );
    assert!(!out.join("model.bpk").exists());
}

/// A model folder whose weights are not finite is refused by the applications.
#[test]
fn a_model_with_non_finite_weights_is_refused() {
    use ae_models::persist::{CONFIG_FILE, WEIGHTS_FILE, save_config, save_weights};
    use ae_models::{VanillaAutoencoder, VanillaAutoencoderConfig};
    use burn::module::{Module, ModuleMapper, Param};
    use burn::tensor::{Device, Tensor};

    struct Poison;
    impl ModuleMapper for Poison {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t.mul_scalar(f32::NAN))
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let config = VanillaAutoencoderConfig::new();
    let model: VanillaAutoencoder = config.init(&Device::flex()).map(&mut Poison);
    save_config("vanilla", &config, &dir.path().join(CONFIG_FILE)).unwrap();
    save_weights(model, &dir.path().join(WEIGHTS_FILE)).unwrap();
    let out = dir.path().join("out");
    refused(
        "compress",
        &[
            "--model",
            dir.path().to_str().unwrap(),
            "--limit",
            "100",
            "--out",
            out.to_str().unwrap(),
        ],
        "NaN or infinite",
    );
}

/// Files with bad values: ratings outside the scale, a stray word in a numeric CSV column.
#[test]
fn bad_values_in_files_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let ratings = dir.path().join("u.data");
    std::fs::write(&ratings, "1\t1\t4\t0\n1\t2\t-3\t0\n").unwrap();
    refused(
        "recommend",
        &[
            "--ratings",
            ratings.to_str().unwrap(),
            "--out",
            dir.path().join("r").to_str().unwrap(),
        ],
        "line 2",
    );
    let csv = dir.path().join("t.csv");
    let mut text = String::new();
    for i in 0..50 {
        let value = if i == 7 {
            "n/a".to_string()
        } else {
            i.to_string()
        };
        text.push_str(&format!("{value},tcp,normal.\n"));
    }
    std::fs::write(&csv, text).unwrap();
    refused(
        "anomaly_tabular",
        &[
            "--csv",
            csv.to_str().unwrap(),
            "--out",
            dir.path().join("t").to_str().unwrap(),
        ],
        "column 1",
    );
}

/// Runs an example that must fail within `seconds`: killed and reported if it runs longer (a
/// FIFO read blocks forever).
fn refused_within(seconds: u64, example: &str, args: &[&str], needle: &str) {
    let path = examples_dir().join(example);
    let mut child = Command::new(&path)
        .args(args)
        .env("AE_PROGRESS", "plain")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the example runs");
    let start = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed().as_secs() >= seconds {
            let _ = child.kill();
            panic!("{example} {args:?} still ran after {seconds} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown = format!("{example} {args:?}:\n{stderr}");
    assert!(!output.status.success(), "exit 0 for {shown}");
    assert!(!stderr.contains("panicked"), "a panic for {shown}");
    assert!(stderr.contains(needle), "no `{needle}` for {shown}");
}

fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the file.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

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
