//! The examples on bad input, as a user or an adversary would give it: every run exits with a
//! failure code, prints no panic, and names the flag, field or file at fault. (The example
//! binaries are the ones `cargo test` builds beside this test.) Bad files and folders are in
//! `bad_files.rs`.

#![cfg(feature = "cli")]

mod common;

use std::path::Path;

use common::{ok, refused, refused_within, run, write_idx_files};

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
    // A run folder that holds the current folder (walking it would list the whole tree).
    for (out, place) in [
        ("..", "above the current folder"),
        (".", "the current folder"),
    ] {
        refused(
            "train_vanilla",
            &["--limit", "64", "--epochs", "1", "--out", out],
            &format!("{out} is {place}"),
        );
    }
    // A remote device named twice (refused before connecting: nothing listens on port 9).
    refused_within(
        30,
        "train_vanilla",
        &["--devices", "ws://127.0.0.1:9,ws://127.0.0.1:9#0"],
        "ws://127.0.0.1:9#0 is named twice",
    );
    refused("generate", &["--grid", "100000"], "--grid");
    refused("generate", &["--span", "NaN"], "--span");
    refused("latent_classify", &["--fractions", "0"], "--fractions");
    refused("latent_classify", &["--fractions", "2"], "--fractions");
    refused("latent_classify", &["--k", "0"], "--k");
    refused("impute", &["--fraction", "0"], "--fraction");
    refused("backend_bench", &["--reps", "0"], "--reps");
    refused("backend_bench", &["--matmul-size", "0"], "--matmul-size");
    // Refused before any measuring: an empty workload name, a folder for the JSON report.
    refused_within(
        30,
        "backend_bench",
        &["--workloads", "matmul,,relu"],
        "--workloads",
    );
    let folder = std::env::temp_dir();
    refused_within(
        30,
        "backend_bench",
        &["--workloads", "matmul", "--json", folder.to_str().unwrap()],
        "is a folder",
    );
    // A run that measures nothing (flex cannot replay a captured step) is a failure.
    refused_within(
        60,
        "backend_bench",
        &["--device", "flex", "--workloads", "dense-train-captured"],
        "nothing was measured",
    );
    // A device node for the JSON report, which the report's rename would have replaced.
    refused_within(
        30,
        "backend_bench",
        &["--workloads", "matmul", "--json", "/dev/null"],
        "it is a character device, not a regular file",
    );
    // The end-to-end rows are refused in the benchmark's own flags, not the trainers'.
    let e2e = ["--device", "flex", "--workloads", "e2e-dense"];
    refused_within(
        30,
        "backend_bench",
        &[&e2e[..], &["--e2e-precision", "tf32"]].concat(),
        "--e2e-precision: tf32 needs TF32",
    );
    refused_within(
        120,
        "backend_bench",
        &[&e2e[..], &["--e2e-limit", "100", "--e2e-batch-size", "200"]].concat(),
        "lower --e2e-batch-size",
    );
    // Refused before anything trains: a size or class named twice, more neighbours than
    // labels, more PCA components than images, an empty query.
    refused(
        "compare_pca",
        &["--sizes", "2,2"],
        "--sizes: 2 is named twice",
    );
    refused(
        "compare_pca",
        &["--limit", "20", "--sizes", "32"],
        "at most 17 components",
    );
    refused(
        "anomaly_oneclass",
        &["--classes", "1,1"],
        "class 1 is named twice",
    );
    refused(
        "latent_classify",
        &["--limit", "2000", "--k", "100", "--fractions", "0.01"],
        "100 neighbours among the 18 labelled images",
    );
    refused("text_autoencoder", &["--query", " "], "--query");
    refused("train_conv", &["--kernel-size", "4"], "kernel_size");
    refused("train_vae", &["--beta", "-1"], "--beta");
    refused(
        "text_autoencoder",
        &["--test-fraction", "1"],
        "--test-fraction",
    );
    refused("recommend", &["--weight-decay", "-1"], "--weight-decay");
    // Mixed precision where it does not exist: TF32 on the CPU, 16-bit LSTMs.
    refused("train_vanilla", &["--precision", "tf32"], "--precision");
    refused("text_autoencoder", &["--precision", "f16"], "LSTM");
    refused("train_vanilla", &["--strategy", "nccl"], "--strategy");
}

/// DDP needs CUDA devices: every trainer refuses it on others, naming the flag, as soon as the
/// devices are open — before the data is read, and before the synthetic data that `recommend`
/// and `anomaly_tabular` generate is written.
#[test]
fn ddp_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    for (example, devices) in [
        ("train_vanilla", "flex,flex"),
        ("recommend", "flex"),
        ("anomaly_tabular", "flex"),
        ("text_autoencoder", "flex"),
    ] {
        let out = dir.path().join(example);
        let out_arg = out.to_str().unwrap();
        let args = ["--devices", devices, "--strategy", "ddp", "--out", out_arg];
        refused(example, &args, "--strategy");
        let written: Vec<_> = std::fs::read_dir(&out)
            .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(written.is_empty(), "{example} wrote {written:?}");
    }
}

/// Train images of 14x14, test images of 28x28: refused at load, naming both shapes.
#[test]
fn splits_of_different_shapes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_files(
        dir.path(),
        &[
            ("train-images-idx3-ubyte", &[20, 14, 14]),
            ("train-labels-idx1-ubyte", &[20]),
            ("t10k-images-idx3-ubyte", &[10, 28, 28]),
            ("t10k-labels-idx1-ubyte", &[10]),
        ],
    );
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

/// A dataset whose test split is empty is refused before training: it ended in a report of
/// "test MSE -0.00000" (and NaN tables, a codes file that could not be read back).
#[test]
fn an_empty_test_split_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_files(
        dir.path(),
        &[
            ("train-images-idx3-ubyte", &[20, 28, 28]),
            ("train-labels-idx1-ubyte", &[20]),
            ("t10k-images-idx3-ubyte", &[0, 28, 28]),
            ("t10k-labels-idx1-ubyte", &[0]),
        ],
    );
    let data = dir.path().to_str().unwrap();
    for example in ["train_vanilla", "compress"] {
        refused(
            example,
            &["--dataset", "mnist", "--data-dir", data, "--epochs", "1"],
            "the test split holds no images",
        );
    }
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
    // A finished run resumed: its last checkpoint is the model (an application goes on with
    // what follows training); a checkpoint past --epochs is refused.
    let finished = run("train_vanilla", &with(&["--epochs", "2", "--resume"]));
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("trained all 2 epochs") && finished.stderr.contains("--epochs 3"),
        "{}",
        finished.stderr
    );
    refused(
        "train_vanilla",
        &with(&["--epochs", "1", "--resume"]),
        "--epochs 3",
    );
    // The newest checkpoint cut short (a truncated file): a typed error, not burn-train's panic.
    let checkpoint = Path::new(out).join("checkpoint").join("model-2.bpk");
    let bytes = std::fs::read(&checkpoint).unwrap();
    std::fs::write(&checkpoint, &bytes[..bytes.len() / 2]).unwrap();
    refused(
        "train_vanilla",
        &with(&["--epochs", "3", "--resume"]),
        "delete that epoch's files (model-2.bpk",
    );
    // As the error says: without epoch 2's files the run resumes from epoch 1; on another
    // device (allowed: a run whose server died continues locally), which it says and records.
    for kind in ["model", "optim", "scheduler"] {
        std::fs::remove_file(checkpoint.with_file_name(format!("{kind}-2.bpk"))).unwrap();
    }
    let elsewhere = if cfg!(feature = "ndarray") {
        "ndarray"
    } else {
        "flex"
    };
    let resumed = run(
        "train_vanilla",
        &with(&["--epochs", "3", "--resume", "--device", elsewhere]),
    );
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    let log = std::fs::read_to_string(Path::new(out).join("metrics.jsonl")).unwrap();
    let ran: Vec<String> = log
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|record| record["split"] == "train")
        .map(|record| format!("{} {}", record["devices"], record["precision"]))
        .collect();
    let on = |device: &str| format!("\"{device}\" \"f32\"");
    assert_eq!(ran, [on("flex"), on(elsewhere), on(elsewhere)]);
    let notice = format!("ran on flex in f32; the run continues on {elsewhere} in f32");
    assert_eq!(
        resumed.stderr.contains(&notice),
        elsewhere != "flex",
        "{}",
        resumed.stderr
    );
    ok("train_vanilla", &with(&["--epochs", "1", "--overwrite"]));
}

/// A refused run writes and deletes nothing: `--overwrite` with a batch larger than the split
/// keeps the earlier run whole, and a refused fresh run leaves no folder that would block the
/// corrected one.
#[test]
fn a_refused_run_keeps_the_earlier_run_and_leaves_no_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = run.to_str().unwrap();
    ok(
        "train_vanilla",
        &[
            "--limit",
            "600",
            "--epochs",
            "1",
            "--batch-size",
            "128",
            "--out",
            out,
        ],
    );
    let files = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        autoencoders::io::record::files_under(dir)
            .unwrap()
            .into_iter()
            .map(|name| {
                let bytes = std::fs::read(dir.join(&name)).unwrap();
                (name, bytes)
            })
            .collect()
    };
    let before = files(&run);
    let too_large = ["--limit", "300", "--epochs", "1", "--batch-size", "512"];
    let mut args = too_large.to_vec();
    args.extend(["--overwrite", "--out", out]);
    refused("train_vanilla", &args, "--batch-size");
    assert_eq!(files(&run), before, "the earlier run changed");

    let fresh = dir.path().join("new").join("run");
    let mut args = too_large.to_vec();
    args.extend(["--out", fresh.to_str().unwrap()]);
    refused("train_vanilla", &args, "--batch-size");
    assert!(
        !dir.path().join("new").exists(),
        "a refused run left its folder"
    );
}

/// Ctrl+C in the middle of training says where the checkpoints are and how to go on, and going
/// on works.
#[cfg(unix)]
#[test]
fn an_interrupted_trainer_says_how_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let checkpoints = run.join("checkpoint");
    let args = [
        "--limit",
        "8000",
        "--epochs",
        "500",
        "--batch-size",
        "16",
        "--out",
        run.to_str().unwrap(),
    ];
    let trainer = std::process::Command::new(common::example_path("train_vanilla"))
        .args(args)
        .env("AE_PROGRESS", "plain")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // burn-train keeps the newest checkpoints only: the epoch of the newest model file.
    let newest = || {
        std::fs::read_dir(&checkpoints)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                name.strip_prefix("model-")?
                    .strip_suffix(".bpk")?
                    .parse::<usize>()
                    .ok()
            })
            .max()
    };
    let start = std::time::Instant::now();
    while newest().is_none() {
        assert!(start.elapsed().as_secs() < 120, "no first checkpoint");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &trainer.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = trainer.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted")
            && stderr.contains(&checkpoints.display().to_string())
            && stderr.contains("--resume"),
        "{stderr}"
    );
    // As it says: the same command with --resume goes on (here for one epoch more).
    let epochs = (newest().expect("a checkpoint kept") + 1).to_string();
    let mut resumed: Vec<&str> = args.to_vec();
    resumed[3] = &epochs;
    resumed.push("--resume");
    ok("train_vanilla", &resumed);
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

/// An application's results go with its model: an `--overwrite` run that fails in training
/// leaves neither the earlier `compress.json` nor its pictures beside the new model folder, and
/// a user's own file in the folder stays.
#[test]
fn overwrite_removes_an_applications_earlier_results_with_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("compress");
    let args = |more: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = ["--limit", "600", "--epochs", "1", "--out"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(out.to_str().unwrap().to_string());
        args.extend(more.iter().map(|s| s.to_string()));
        args
    };
    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    ok("compress", &strs(&args(&[])));
    for result in ["compress.json", "codes.aeq", "compressed.png"] {
        assert!(out.join(result).is_file(), "{result} not written");
    }
    std::fs::write(out.join("notes.txt"), "a user's").unwrap();
    refused(
        "compress",
        &strs(&args(&["--overwrite", "--lr", "1e12"])),
        "diverged",
    );
    for result in [
        "compress.json",
        "codes.aeq",
        "compressed.png",
        "model/model.bpk",
    ] {
        assert!(
            !out.join(result).exists(),
            "{result} of the earlier run kept"
        );
    }
    assert!(out.join("notes.txt").is_file());
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

/// The applications on the smallest data they take, and on settings they can only refuse: a
/// result or a clear error, never a panic, and a refusal before training and before any file of
/// an earlier run is touched.
#[test]
fn applications_on_tiny_data_and_late_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let tiny = ["--epochs", "1", "--batch-size", "2"];
    // Fewer test images than the pictures show (interpolation pairs, the impute grid).
    let vae = out("vae");
    ok(
        "train_vae",
        &[
            &tiny[..],
            &["--limit", "3", "--valid-fraction", "0", "--out", &vae],
        ]
        .concat(),
    );
    assert!(Path::new(&vae).join("interpolation.png").is_file());
    ok(
        "generate",
        &[&tiny[..], &["--limit", "3", "--out", &out("gen")]].concat(),
    );
    ok(
        "impute",
        &[&tiny[..], &["--limit", "5", "--out", &out("imp")]].concat(),
    );
    // Known before training, refused before it: nothing is written.
    refused_within(
        30,
        "generate",
        &["--latent-dim", "1", "--out", &out("gen1")],
        "--latent-dim",
    );
    refused_within(
        30,
        "recommend",
        &["--user", "999999", "--out", &out("rec1")],
        "--user: 999999 does not appear",
    );
    refused_within(
        30,
        "anomaly_tabular",
        &["--rows", "10", "--out", &out("tab1")],
        "holds 0 anomalous and 3 normal rows",
    );
    for name in ["gen1", "rec1", "tab1"] {
        let folder = dir.path().join(name);
        let files = autoencoders::io::record::files_under(&folder).unwrap_or_default();
        assert!(files.is_empty(), "{name}: {files:?}");
    }
    // A refused --resume leaves the run's generated ratings file as it was.
    let rec = out("rec");
    ok("recommend", &["--epochs", "1", "--out", &rec]);
    let ratings = Path::new(&rec).join("synthetic-u.data");
    let before = std::fs::read(&ratings).unwrap();
    refused(
        "recommend",
        &["--epochs", "2", "--seed", "9", "--resume", "--out", &rec],
        "the train split's data differ: another data file or dataset, --seed,",
    );
    assert_eq!(std::fs::read(&ratings).unwrap(), before);
    // Its model scored on another split of the data would be scored on ratings it trained on.
    let model = Path::new(&rec).join("model");
    refused(
        "recommend",
        &[
            "--model",
            model.to_str().unwrap(),
            "--seed",
            "9",
            "--out",
            &out("rec2"),
        ],
        "was trained on another training split",
    );
    ok(
        "recommend",
        &["--model", model.to_str().unwrap(), "--out", &out("rec3")],
    );
}
