//! End-to-end training of the two non-image models on data the tests write themselves: the
//! sentence autoencoder learns to rebuild a small corpus, AutoRec beats the rating baselines on
//! a known low-rank matrix.

use ae_data::ratings::{
    ItemRatingsDataset, SyntheticRatings, read_ratings, write_synthetic_ratings,
};
use ae_data::text::{TextDataset, TokenizerKind, Vocabulary, read_corpus, sentences_for_training};
use ae_models::{AutoRecConfig, SavedModel, TextAutoencoder, TextAutoencoderConfig};
use ae_train::recommend::{predict_at, ratings_report};
use ae_train::text::{encode_sentences, evaluate_text, nearest_neighbours};
use ae_train::{Backend, DeviceSpec, FitOptions, TrainingConfig, fit, read_epoch_log};

const CORPUS: &str = "\
The cat sat on the mat.
%
A dog ran in the park. The dog was happy.
%
The bird sang a song.
%
A cat sat in the sun.
%
The dog sat on the mat.
%
A bird flew over the park.
";

#[test]
fn sentence_autoencoder_learns_a_small_corpus() {
    let device = DeviceSpec::new(Backend::Flex).device().unwrap();
    device.seed(5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quotes");
    std::fs::write(&path, CORPUS).unwrap();
    let sentences =
        sentences_for_training(&read_corpus(&path).unwrap(), TokenizerKind::Word, 3, 12);
    assert_eq!(sentences.len(), 7);
    let vocabulary = Vocabulary::build(TokenizerKind::Word, &sentences, 100).unwrap();
    let data = TextDataset::new(&vocabulary, &sentences, 12);
    let model = TextAutoencoderConfig::new(vocabulary.len())
        .with_embed_dim(16)
        .with_hidden_dim(32)
        .with_latent_dim(8)
        .init(&device);
    let config = TrainingConfig::new()
        .with_epochs(60)
        .with_batch_size(8)
        .with_learning_rate(1e-2)
        .with_seed(5);
    let run = dir.path().join("run");
    let options = FitOptions::new(&run, &device);
    let fitted = fit(model, data.clone(), data.clone(), &config, &options).unwrap();
    let log = read_epoch_log(&run.join("metrics.jsonl")).unwrap();
    let loss = |epoch: usize| {
        log.iter()
            .find(|r| r.epoch == epoch && r.split == "train")
            .unwrap()
            .metrics["Loss"]
    };
    assert!(
        loss(60) < 0.25 * loss(1),
        "loss {} -> {}",
        loss(1),
        loss(60)
    );
    let report = evaluate_text(&fitted.model, &data, 8, &device).unwrap();
    assert!(report.teacher_forced_accuracy > 0.9, "{report:?}");
    assert!(report.greedy_accuracy > 0.6, "{report:?}");
    assert!(report.perplexity >= 1.0);

    // A sentence's nearest neighbour in code space is itself.
    let codes = encode_sentences(&fitted.model, &data, 8, &device).unwrap();
    let dim = fitted.model.config().latent_dim;
    for (i, code) in codes.chunks(dim).enumerate() {
        assert_eq!(nearest_neighbours(&codes, dim, code, 1)[0].0, i);
    }

    // Saved and loaded, the model scores the same.
    fitted.model.save(&run).unwrap();
    let loaded = TextAutoencoder::load(&run, &device).unwrap();
    assert_eq!(evaluate_text(&loaded, &data, 8, &device).unwrap(), report);
}

#[test]
fn autorec_beats_the_baselines_on_low_rank_ratings() {
    let device = DeviceSpec::new(Backend::Flex).device().unwrap();
    device.seed(3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.data");
    let spec = SyntheticRatings {
        users: 300,
        items: 400,
        ratings: 30_000,
        rank: 3,
        noise: 0.3,
    };
    write_synthetic_ratings(&path, spec, 3).unwrap();
    let ratings = read_ratings(&path).unwrap();
    let shape = (ratings.users(), ratings.items());
    let (train, test) = ratings.split(0.1, 3).unwrap();
    let model = AutoRecConfig::new(shape.0).with_hidden(200).init(&device);
    let config = TrainingConfig::new()
        .with_epochs(40)
        .with_batch_size(16)
        .with_seed(3);
    let run = dir.path().join("run");
    let (users, items) = shape;
    let fitted = fit(
        model,
        ItemRatingsDataset::new(users, items, &train, &train),
        ItemRatingsDataset::new(users, items, &train, &test),
        &config,
        &FitOptions::new(&run, &device),
    )
    .unwrap();
    let queries: Vec<(usize, usize)> = test.iter().map(|r| (r.item, r.user)).collect();
    let predictions = predict_at(&fitted.model, shape, &train, &queries, 64, &device).unwrap();
    // Batches of another size (several, one partial) give the same values in the same order.
    let in_sevens = predict_at(&fitted.model, shape, &train, &queries, 7, &device).unwrap();
    assert_eq!(predictions, in_sevens);
    assert!(predict_at(&fitted.model, shape, &train, &[(items, 0)], 7, &device).is_err());
    let report = ratings_report(&predictions, items, &train, &test);
    println!("{report:?}");
    assert!(
        report.autorec_rmse < 0.9 * report.item_mean_rmse
            && report.item_mean_rmse < report.global_mean_rmse,
        "{report:?}"
    );
    // The RMSE burn-train logged for the last validation epoch is the one computed here.
    let log = read_epoch_log(&run.join("metrics.jsonl")).unwrap();
    let logged = log
        .iter()
        .find(|r| r.epoch == 40 && r.split == "valid")
        .unwrap()
        .metrics["RMSE"];
    assert!(
        (logged - report.autorec_rmse).abs() < 1e-3,
        "{logged} vs {report:?}"
    );
}
