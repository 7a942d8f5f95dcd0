//! Model folders from anywhere — arbitrary or mutated `config.json`, arbitrary or mutated
//! `model.bpk` — load to `Ok` or a typed error: never a panic, never an allocation that aborts.

use std::path::Path;

use ae_models::persist::{CONFIG_FILE, WEIGHTS_FILE};
use ae_models::{ModelConfig, PRESETS, load_model};
use burn::tensor::Device;
use proptest::prelude::*;

const MEMORY_BOUND_BYTES: u64 = 2 << 30;

fn assert_memory_bound() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(kib) = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
    {
        assert!(kib * 1024 < MEMORY_BOUND_BYTES, "peak memory {kib} KiB");
    }
}

/// A small saved model folder (a 4x4 dense autoencoder), as bytes of its two files.
fn valid_folder() -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let model = ModelConfig::preset("keras-mlp")
        .unwrap()
        .with_input_shape([1, 4, 4])
        .init(&Device::flex())
        .unwrap();
    model.save(dir.path()).unwrap();
    (
        std::fs::read(dir.path().join(CONFIG_FILE)).unwrap(),
        std::fs::read(dir.path().join(WEIGHTS_FILE)).unwrap(),
    )
}

fn mutated(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = valid.len().max(1);
    (prop::collection::vec((0..len, any::<u8>()), 0..6), 0..=len).prop_map(move |(edits, cut)| {
        let mut bytes = valid.clone();
        for (i, b) in edits {
            if i < bytes.len() {
                bytes[i] = b;
            }
        }
        bytes.truncate(cut.max(1));
        bytes
    })
}

fn try_folder(config: &[u8], weights: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CONFIG_FILE), config).unwrap();
    std::fs::write(dir.path().join(WEIGHTS_FILE), weights).unwrap();
    let _ = load_model(dir.path(), &Device::flex());
    assert_memory_bound();
}

/// A configuration out of bounds names its file, not only its field.
#[test]
fn a_refused_configuration_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let preset = serde_json::to_string(&ModelConfig::preset("keras-mlp").unwrap()).unwrap();
    let huge = preset.replace("\"latent_dim\":32", "\"latent_dim\":1000000000");
    assert_ne!(huge, preset, "the preset's latent_dim was found");
    std::fs::write(dir.path().join(CONFIG_FILE), huge).unwrap();
    let err = load_model(dir.path(), &Device::flex())
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json: invalid model configuration: `latent_dim`"),
        "{err}"
    );
}

/// A sentence or recommender model's folder where an image model goes says which kind it holds
/// (serde said "unknown variant `text`, expected one of ...").
#[test]
fn a_folder_of_another_family_names_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["text", "autorec"] {
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            format!("{{\"kind\": \"{kind}\", \"hidden\": 8}}"),
        )
        .unwrap();
        let err = load_model(dir.path(), &Device::flex())
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("holds a `{kind}` model, not a `vanilla, conv,")),
            "{err}"
        );
    }
}

/// A path that is no model folder says what a model folder is.
#[test]
fn a_path_that_is_no_model_folder_says_what_one_is() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "mine").unwrap();
    for (path, what) in [
        (dir.path().join("missing"), "no such folder"),
        (file, "not a folder"),
        (dir.path().to_path_buf(), "a folder without config.json"),
    ] {
        let err = load_model(&path, &Device::flex())
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(what) && err.contains("a trainer's output folder"),
            "{err}"
        );
    }
}

/// Numbers that make allocations explode when a configuration is not bounded.
#[test]
fn huge_sizes_in_a_config_are_refused_before_allocating() {
    for (field, value) in [
        ("latent_dim", "1000000000"),
        ("hidden", "[4000000000]"),
        ("input_shape", "[1, 100000, 100000]"),
        ("latent_dim", "0"),
    ] {
        for (name, _) in PRESETS {
            let mut json: serde_json::Value =
                serde_json::to_value(ModelConfig::preset(name).unwrap()).unwrap();
            let target = match json.get_mut("base").and_then(|b| b.as_object_mut()) {
                Some(base) if !base.contains_key(field) => base
                    .values_mut()
                    .next()
                    .and_then(|v| v.as_object_mut())
                    .unwrap(),
                Some(base) => base,
                None => json.as_object_mut().unwrap(),
            };
            if !target.contains_key(field) {
                continue;
            }
            target.insert(field.into(), serde_json::from_str(value).unwrap());
            let text = json.to_string();
            let config = match ModelConfig::from_json(&text, Path::new("config.json")) {
                Ok(config) => config,
                Err(_) => continue,
            };
            let err = config.init(&Device::flex());
            assert!(err.is_err(), "{name} {field}={value} built a model");
        }
    }
    assert_memory_bound();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_folders(config in prop::collection::vec(any::<u8>(), 0..300),
                         weights in prop::collection::vec(any::<u8>(), 0..300)) {
        try_folder(&config, &weights);
    }

    #[test]
    fn mutated_configs(config in mutated(valid_folder().0)) {
        try_folder(&config, &valid_folder().1);
    }

    #[test]
    fn mutated_weights(weights in mutated(valid_folder().1)) {
        try_folder(&valid_folder().0, &weights);
    }
}

/// A folder whose `model.bpk` is another configuration's (a code of 32 under a `config.json`
/// of 16): refused, naming the weights file, before any tensor of the wrong shape is used.
#[test]
fn weights_of_another_configuration_are_refused() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let shape = |latent: usize| match ModelConfig::preset("keras-mlp").unwrap() {
        ModelConfig::Vanilla(c) => ModelConfig::Vanilla(c.with_latent_dim(latent)),
        _ => unreachable!("keras-mlp is a vanilla autoencoder"),
    };
    shape(32).init(&device).unwrap().save(dir.path()).unwrap();
    let other = tempfile::tempdir().unwrap();
    shape(16).init(&device).unwrap().save(other.path()).unwrap();
    std::fs::copy(other.path().join(CONFIG_FILE), dir.path().join(CONFIG_FILE)).unwrap();
    match load_model(dir.path(), &device) {
        Err(err) => assert!(err.to_string().contains(WEIGHTS_FILE), "{err}"),
        Ok(_) => panic!("weights of another configuration were loaded"),
    }
}
