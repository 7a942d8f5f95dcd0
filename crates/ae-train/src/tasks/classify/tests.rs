use burn::tensor::{Device, Tensor, TensorData};

use ae_data::ImageDataset;
use ae_models::{AnyAutoencoder, Autoencoder};

use super::*;
use crate::error::TrainError;
use crate::eval::{errors_of, image_batches, values};

#[test]
fn separable_classes_are_learnt_and_knn_votes_by_hand() {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex();
    // Class 0 around (-2, 0), class 1 around (2, 0).
    let x: Vec<f32> = (0..40)
        .flat_map(|i| {
            let c = if i % 2 == 0 { -2.0 } else { 2.0 };
            [c + (i as f32 * 0.37).sin() * 0.5, (i as f32 * 0.71).cos()]
        })
        .collect();
    let y: Vec<u32> = (0..40).map(|i| (i % 2) as u32).collect();
    let rows: Vec<usize> = (0..40).collect();
    let model = train_logistic(&x, &y, &rows, 2, 2, 30, 1, &device).unwrap();
    assert_eq!(linear_accuracy(&model, &x, &y, 2, &device).unwrap(), 1.0);
    assert_eq!(
        knn_accuracy(&x, &y, &rows, &x, &y, 2, 3, &device).unwrap(),
        1.0
    );
    // One query at 0.9 between a class-1 point at 1 and two class-0 points at -1 and -1.2:
    // k = 1 picks class 1, k = 3 votes class 0.
    let tx = [1.0, 0.0, -1.0, 0.0, -1.2, 0.0];
    let ty = [1, 0, 0];
    let q = [0.9f32, 0.0];
    assert_eq!(
        knn_accuracy(&tx, &ty, &[0, 1, 2], &q, &[1], 2, 1, &device).unwrap(),
        1.0
    );
    assert_eq!(
        knn_accuracy(&tx, &ty, &[0, 1, 2], &q, &[0], 2, 3, &device).unwrap(),
        1.0
    );
    assert_eq!(labelled_subset(100, 0.1, 3).len(), 10);
    assert_eq!(labelled_subset(100, 0.1, 3), labelled_subset(100, 0.1, 3));
}

/// Two classes of 4x4 images: bright left half or bright right half, with some texture.
fn halves(count: usize) -> ImageDataset {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for i in 0..count {
        let class = (i % 2) as u32;
        for p in 0..16 {
            let bright = (p % 4 < 2) == (class == 0);
            let texture = ((i * 7 + p * 13) % 40) as u8;
            pixels.push(if bright { 200 + texture } else { texture });
        }
        labels.push(class);
    }
    let names = vec!["left".into(), "right".into()];
    ImageDataset::new(
        "halves",
        ae_data::ImageShape::new(1, 4, 4),
        pixels,
        Some(labels),
        names,
    )
    .unwrap()
}

/// Held by the tests that seed the device: its generator is shared by every thread of the test
/// binary, so two such tests running at once would draw each other's numbers.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn tiny_autoencoder(device: &Device) -> AnyAutoencoder {
    ae_models::VanillaAutoencoderConfig::new()
        .with_input_shape([1, 4, 4])
        .with_hidden(vec![8])
        .with_latent_dim(2)
        .try_init(device)
        .unwrap()
        .into()
}

#[test]
fn fine_tuning_learns_the_labels_and_leaves_the_decoder_alone() {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex();
    device.seed(3);
    let data = halves(40);
    let autoencoder = tiny_autoencoder(&device);
    let code = || Tensor::<2>::from_data(TensorData::new(vec![0.3f32, 0.7], [1, 2]), &device);
    let decoded_before = values(autoencoder.decode(code())).unwrap();
    let config = EncoderClassifierConfig::new()
        .with_steps(150)
        .with_batch_size(8)
        .with_learning_rate(1e-2);
    let mut seen = Vec::new();
    let model = train_encoder_classifier(
        autoencoder,
        &data,
        &(0..10).collect::<Vec<_>>(),
        &config,
        &device,
        |p| seen.push(p),
    )
    .unwrap();
    assert_eq!(seen.len(), 150);
    assert!(seen.iter().all(|p| p.steps == 150));
    assert_eq!(seen.iter().filter(|p| p.loss.is_some()).count(), 3);
    // Ten labels were enough to classify all forty images.
    assert_eq!(model.accuracy(&data, &device).unwrap(), 1.0);
    // Cross-entropy sends no gradient to the decoder: Adam leaves it as it was.
    assert_eq!(
        values(model.autoencoder.decode(code())).unwrap(),
        decoded_before
    );
}

#[test]
fn joint_training_also_trains_the_decoder_on_every_image() {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex();
    device.seed(4);
    let data = halves(40);
    let autoencoder = tiny_autoencoder(&device);
    let before = errors_of(&autoencoder, image_batches(&data, 40, &device))
        .unwrap()
        .report("halves")
        .mse;
    let config = EncoderClassifierConfig::new()
        .with_steps(300)
        .with_batch_size(8)
        .with_learning_rate(1e-2)
        .with_reconstruction_weight(10.0);
    // Two labels only; the reconstruction term sees all forty images.
    let model =
        train_encoder_classifier(autoencoder, &data, &[0, 1], &config, &device, |_| {}).unwrap();
    let after = errors_of(&model.autoencoder, image_batches(&data, 40, &device))
        .unwrap()
        .report("halves")
        .mse;
    assert!(
        after < before / 2.0,
        "reconstruction MSE {before} -> {after}"
    );
    assert_eq!(model.accuracy(&data, &device).unwrap(), 1.0);
}

#[test]
fn classifier_training_rejects_bad_input() {
    let device = Device::flex();
    let data = halves(4);
    let config = EncoderClassifierConfig::new().with_steps(1);
    let run = |rows: &[usize], data: &ImageDataset, config: &EncoderClassifierConfig| {
        train_encoder_classifier(
            tiny_autoencoder(&device),
            data,
            rows,
            config,
            &device,
            |_| {},
        )
        .map(|_| ())
        .unwrap_err()
        .to_string()
    };
    assert!(run(&[], &data, &config).contains("no labelled image"));
    assert!(run(&[1, 9], &data, &config).contains("row 9 is past the end of halves"));
    assert!(run(&[0], &data, &config.clone().with_steps(0)).contains("0 steps"));
    let unlabelled = ImageDataset::new(
        "plain",
        ae_data::ImageShape::new(1, 4, 4),
        vec![0; 32],
        None,
        vec![],
    )
    .unwrap();
    assert!(run(&[0], &unlabelled, &config).contains("needs labelled images"));
    let wide = ImageDataset::new(
        "wide",
        ae_data::ImageShape::new(1, 4, 5),
        vec![0; 40],
        Some(vec![0, 1]),
        vec![],
    )
    .unwrap();
    assert!(run(&[0], &wide, &config).contains("takes [1, 4, 4] images but wide has 1x4x5"));
}

/// Features whose logits overflow (an infinite feature): the classifier's loss stops being
/// finite, and training says so instead of returning a chance-level model.
#[test]
fn a_diverging_classifier_is_an_error() {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex();
    let x: Vec<f32> = (0..40)
        .map(|i| if i % 2 == 0 { f32::INFINITY } else { 1.0 })
        .collect();
    let y: Vec<u32> = (0..20).map(|i| (i % 2) as u32).collect();
    let rows: Vec<usize> = (0..20).collect();
    match train_logistic(&x, &y, &rows, 2, 2, 3, 1, &device) {
        Err(TrainError::LossNotFinite { what, step, .. }) => {
            assert_eq!((what, step), ("logistic regression", 1));
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a diverged classifier was returned"),
    }
}
