//! Collaborative filtering with AutoRec (item-based, Sedhain et al. 2015): each item's vector of
//! user ratings is encoded and reconstructed, the loss counting observed ratings only. Reports
//! test RMSE against the global-mean and item-mean baselines and recommends items to a user.
//!
//! ```text
//! cargo run --release --example recommend                        # synthetic ML-100K-sized ratings
//! cargo run --release --example recommend -- --ratings ml-100k/u.data
//! cargo run --release --example recommend -- --ratings ml-1m/ratings.dat --test-fraction 0.1
//! ```

use std::path::PathBuf;

use clap::Parser;
use serde::Serialize;

use autoencoders::cli::exit_on_error;
use autoencoders::data::ratings::{SyntheticRatings, read_ratings, write_synthetic_ratings};
use autoencoders::models::{AutoRec, AutoRecConfig, SavedModel};
use autoencoders::train::recommend::{
    RatingsReport, fit_autorec, predict_all, ratings_report, top_n,
};
use autoencoders::train::{
    DeviceSpec, EpochMetrics, MachineInfo, Table, TrainError, TrainingConfig, write_json,
};

#[derive(Parser)]
#[command(about = "Collaborative filtering with item-based AutoRec on MovieLens-format ratings")]
struct Cli {
    /// A ratings file: ML-100K `u.data`, ML-1M `ratings.dat` or a `user,item,rating` CSV
    /// (default: generate a synthetic ML-100K-format file from a known low-rank model).
    #[arg(long)]
    ratings: Option<PathBuf>,
    /// Fraction of the ratings held out for testing.
    #[arg(long, default_value_t = 0.1)]
    test_fraction: f64,
    /// Backend and device.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Epochs.
    #[arg(long, default_value_t = 60)]
    epochs: usize,
    /// Items per step.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Hidden units.
    #[arg(long, default_value_t = 500)]
    hidden: usize,
    /// Weight of the L2 penalty on the weights.
    #[arg(long, default_value_t = 1e-3)]
    weight_decay: f64,
    /// Show recommendations for this user (the id in the file).
    #[arg(long)]
    user: Option<u64>,
    /// Recommendations to show.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Load a trained model folder instead of training (same file, split and seed).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Resume an interrupted training run in --out.
    #[arg(long)]
    resume: bool,
    /// Seed of the split, the synthetic data and the weights.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output folder.
    #[arg(long, default_value = "runs/recommend")]
    out: PathBuf,
}

#[derive(Serialize)]
struct Summary {
    ratings_file: String,
    users: usize,
    items: usize,
    train_ratings: usize,
    #[serde(flatten)]
    report: RatingsReport,
    training_seconds: Option<f64>,
    epochs: Vec<EpochMetrics>,
    recommendations: Vec<(u64, f32)>,
    machine: MachineInfo,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    exit_on_error(|| -> Result<(), TrainError> {
        let path = match &cli.ratings {
            Some(p) => p.clone(),
            None => {
                let p = cli.out.join("synthetic-u.data");
                let spec = SyntheticRatings::default();
                write_synthetic_ratings(&p, spec, cli.seed)?;
                println!(
                    "wrote {} synthetic ratings ({} users x {} items, rank {}, noise {}) to {}",
                    spec.ratings,
                    spec.users,
                    spec.items,
                    spec.rank,
                    spec.noise,
                    p.display()
                );
                p
            }
        };
        let ratings = read_ratings(&path)?;
        let (users, items) = (ratings.users(), ratings.items());
        let (train, test) = ratings.split(cli.test_fraction, cli.seed)?;
        println!(
            "{}: {} ratings of {users} users x {items} items ({:.2}% filled); {} train, {} test",
            path.display(),
            ratings.ratings.len(),
            100.0 * ratings.ratings.len() as f64 / (users * items) as f64,
            train.len(),
            test.len()
        );
        let device = cli.device.parse::<DeviceSpec>()?.device()?;
        device.seed(cli.seed);
        let model_dir = cli.model.clone().unwrap_or_else(|| cli.out.join("model"));
        let (model, epochs, seconds) = match &cli.model {
            Some(dir) => (AutoRec::load(dir, &device)?, Vec::new(), None),
            None => {
                let model = AutoRecConfig::new(users)
                    .with_hidden(cli.hidden)
                    .with_weight_decay(cli.weight_decay)
                    .try_init(&device)?;
                let training = TrainingConfig::new()
                    .with_epochs(cli.epochs)
                    .with_batch_size(cli.batch_size)
                    .with_learning_rate(cli.lr)
                    .with_seed(cli.seed);
                let fitted = fit_autorec(
                    model,
                    (users, items),
                    &train,
                    &test,
                    &training,
                    &model_dir,
                    &device,
                    cli.resume,
                )?;
                fitted.model.save(&model_dir)?;
                (fitted.model, fitted.epochs, Some(fitted.seconds))
            }
        };
        if model.config().num_inputs != users {
            return Err(TrainError::InvalidArgument {
                what: "model",
                message: format!(
                    "{} was trained on {} users, this file has {users}; pass the same --ratings",
                    model_dir.display(),
                    model.config().num_inputs
                ),
            });
        }

        let predictions = predict_all(&model, (users, items), &train, 256, &device)?;
        let report = ratings_report(&predictions, (users, items), &train, &test);
        let mut table = Table::new(["predictor", "test RMSE"]);
        table.row([
            "global mean".to_string(),
            format!("{:.4}", report.global_mean_rmse),
        ]);
        table.row([
            "item mean".to_string(),
            format!("{:.4}", report.item_mean_rmse),
        ]);
        table.row([
            "I-AutoRec".to_string(),
            format!("{:.4}", report.autorec_rmse),
        ]);
        print!("\n{table}");

        let user_id = cli.user.unwrap_or(ratings.user_ids[0]);
        let user =
            ratings
                .user_ids
                .binary_search(&user_id)
                .map_err(|_| TrainError::InvalidArgument {
                    what: "user",
                    message: format!("{user_id} does not appear in {}", path.display()),
                })?;
        let recommended: Vec<(u64, f32)> = top_n(&predictions, users, user, &train, cli.top)
            .into_iter()
            .map(|(item, rating)| (ratings.item_ids[item], rating))
            .collect();
        let mut top = Table::new(["rank", "item id", "predicted rating"]);
        for (rank, (item, rating)) in recommended.iter().enumerate() {
            top.row([
                (rank + 1).to_string(),
                item.to_string(),
                format!("{rating:.2}"),
            ]);
        }
        println!("\ntop {} unrated items for user {user_id}:", cli.top);
        print!("{top}");

        let summary = Summary {
            ratings_file: path.display().to_string(),
            users,
            items,
            train_ratings: train.len(),
            report,
            training_seconds: seconds,
            epochs,
            recommendations: recommended,
            machine: MachineInfo::detect(),
        };
        let out = cli.out.join("recommend.json");
        write_json(&out, &summary)?;
        println!(
            "\nresults: {}; model: {}",
            out.display(),
            model_dir.display()
        );
        Ok(())
    })
}
