use burn::tensor::{Device, Int, Tensor, TensorData, Tolerance};

use super::*;
use crate::persist::SavedModel;
use crate::text::config::{PAD, UNK};
use burn::module::Module;

fn small() -> TextAutoencoderConfig {
    TextAutoencoderConfig::new(20)
        .with_embed_dim(8)
        .with_hidden_dim(16)
        .with_latent_dim(6)
}

fn ints(rows: &[&[i64]], device: &Device) -> Tensor<2, Int> {
    let cols = rows[0].len();
    let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), cols]), device)
}

fn floats(rows: &[&[f32]], device: &Device) -> Tensor<2> {
    let cols = rows[0].len();
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), cols]), device)
}

#[test]
fn shapes_and_initial_loss_near_uniform() {
    let device = Device::flex();
    device.seed(3);
    let model = small().init(&device);
    let tokens = ints(&[&[5, 6, 7], &[8, 0, 0]], &device);
    let last = floats(&[&[0., 0., 1.], &[1., 0., 0.]], &device);
    let inputs = ints(&[&[1, 5, 6, 7], &[1, 8, 0, 0]], &device);
    let targets = ints(&[&[5, 6, 7, 2], &[8, 2, 0, 0]], &device);
    let output = model.forward(tokens, last, inputs, targets);
    assert_eq!(output.logits.dims(), [2, 4, 20]);
    assert_eq!(output.codes.dims(), [2, 6]);
    let loss = output.loss.into_scalar::<f32>();
    // An untrained model is close to uniform over 20 tokens: ln 20 = 3.0.
    assert!(
        loss.is_finite() && (loss - 20f32.ln()).abs() < 1.0,
        "{loss}"
    );
}

#[test]
fn padding_does_not_change_a_sentence_code() {
    let device = Device::flex();
    let model = small().init(&device);
    let alone = model.encode(ints(&[&[8, 9]], &device), floats(&[&[0., 1.]], &device));
    let padded = model.encode(
        ints(&[&[8, 9, 0, 0], &[5, 6, 7, 4]], &device),
        floats(&[&[0., 1., 0., 0.], &[0., 0., 0., 1.]], &device),
    );
    padded
        .slice([0..1, 0..6])
        .into_data()
        .assert_approx_eq::<f32>(&alone.into_data(), Tolerance::absolute(1e-6));
}

#[test]
fn padding_targets_do_not_count_in_the_loss() {
    let device = Device::flex();
    let model = small().init(&device);
    let run = |targets| {
        model
            .forward(
                ints(&[&[5, 6]], &device),
                floats(&[&[0., 1.]], &device),
                ints(&[&[1, 5, 6, 0]], &device),
                targets,
            )
            .loss
            .into_scalar::<f32>()
    };
    // The padded positions' targets are ignored; the real ones are not.
    let with_pad = run(ints(&[&[5, 6, 2, PAD as i64]], &device));
    let three = run(ints(&[&[5, 6, 2, 2]], &device));
    assert_ne!(with_pad, three);
    let model_logits = model.decode_logits(
        model.encode(ints(&[&[5, 6]], &device), floats(&[&[0., 1.]], &device)),
        ints(&[&[1, 5, 6]], &device),
    );
    assert_eq!(model_logits.dims(), [1, 3, 20]);
}

#[test]
fn word_dropout_only_while_training() {
    let device = Device::flex();
    let model = small().with_word_dropout(0.5).init(&device);
    let inputs = ints(&[&[1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]], &device);
    let eval = model.drop_words(inputs.clone());
    assert_eq!(eval.into_data(), inputs.clone().into_data());

    let trained = model.train();
    let dropped = trained
        .drop_words(inputs.clone().to_device(&device.clone().autodiff()))
        .into_data()
        .try_to_vec_as::<i64>()
        .unwrap();
    assert_eq!(dropped[0], 1, "the first input is never dropped");
    let unknown = dropped.iter().filter(|&&t| t == UNK as i64).count();
    assert!(unknown > 0 && unknown < 11, "{dropped:?}");
}

#[test]
fn greedy_decode_and_save_load() {
    let device = Device::flex();
    let model = small().init(&device);
    let tokens = ints(&[&[5, 6, 7], &[8, 9, 0]], &device);
    let last = floats(&[&[0., 0., 1.], &[0., 1., 0.]], &device);
    let decoded = model.reconstruct(tokens.clone(), last.clone(), 5).unwrap();
    assert_eq!(decoded.len(), 2);
    assert!(decoded.iter().all(|s| s.len() <= 6));

    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = TextAutoencoder::load(dir.path(), &device).unwrap();
    assert_eq!(loaded.config().vocab_size, 20);
    loaded
        .encode(tokens.clone(), last.clone())
        .into_data()
        .assert_eq(
            &model.encode(tokens.clone(), last.clone()).into_data(),
            true,
        );
    assert_eq!(loaded.reconstruct(tokens, last, 5).unwrap(), decoded);
}

#[test]
fn invalid_configs_are_rejected() {
    let device = Device::flex();
    assert!(TextAutoencoderConfig::new(4).try_init(&device).is_err());
    assert!(small().with_word_dropout(1.0).try_init(&device).is_err());
    assert!(small().with_latent_dim(0).try_init(&device).is_err());
}
