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

use autoencoders::cli::ranges::{self, MAX_WIDTH};
use autoencoders::cli::{
    Defaults, DeviceArgs, InputArgs, ModelDirArgs, OutputArgs, TrainArgs, exit_on_error,
};
use autoencoders::data::ratings::{
    ItemRatingsDataset, SyntheticRatings, read_ratings, write_synthetic_ratings,
};
use autoencoders::models::{AutoRec, AutoRecConfig, SaveFolder, SavedModel};
use autoencoders::run::{MachineInfo, StagedFile, write_json};
use autoencoders::table::Table;
use autoencoders::train::recommend::{RatingsReport, predict_at, ratings_report, top_n};
use autoencoders::train::{EpochMetrics, TrainError, check_run_folder, check_trained_on, fit};

const NAME: &str = "recommend";
// AutoRec's code is its hidden layer (--hidden).
const DEFAULTS: Defaults = Defaults::new(60, 64, 500);

#[derive(Parser)]
#[command(about = "Collaborative filtering with item-based AutoRec on MovieLens-format ratings")]
// `--residency` places image splits; tables and ratings are batched from the host.
#[command(mut_arg("residency", |a| a.hide(true)))]
struct Cli {
    /// A ratings file: ML-100K `u.data`, ML-1M `ratings.dat` or a `user,item,rating` CSV
    /// (default: generate a synthetic ML-100K-format file from a known low-rank model).
    #[arg(long)]
    ratings: Option<PathBuf>,
    /// Fraction of the ratings held out for testing.
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::open_fraction, default_value_t = 0.1)]
    test_fraction: f64,
    /// Hidden units.
    #[arg(long, value_parser = ranges::count::<1, MAX_WIDTH>, default_value_t = 500)]
    hidden: usize,
    /// Weight of the L2 penalty on the weights.
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::non_negative, default_value_t = 1e-3)]
    weight_decay: f64,
    /// Show recommendations for this user (the id in the file).
    #[arg(long)]
    user: Option<u64>,
    /// Recommendations to show.
    #[arg(long, value_parser = ranges::count::<1, 100_000>, default_value_t = 10)]
    top: usize,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    input: InputArgs,
    /// (--seed also seeds the split and the synthetic data.)
    #[command(flatten)]
    train: TrainArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// (Use it with the same ratings file, split and seed it was trained on.)
    #[command(flatten)]
    pretrained: ModelDirArgs,
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
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        cli.input.apply();
        let training = cli.train.config(&DEFAULTS)?;
        let seed = training.seed;
        let out = cli.output.dir(NAME);
        // A run that fit would refuse is refused before its generated data file is written.
        if cli.pretrained.model.is_none() {
            check_run_folder(&out.join("model"), cli.output.resume, cli.output.overwrite)?;
        }
        let devices = cli.device.open()?;
        // The synthetic file takes its name once the run is accepted (`StagedFile`).
        let (path, staged) = match &cli.ratings {
            Some(p) => (p.clone(), None),
            None => {
                let staged = StagedFile::new(&out.join("synthetic-u.data"));
                let spec = SyntheticRatings::default();
                staged.write(|path| write_synthetic_ratings(path, spec, seed))?;
                println!(
                    "generated {} synthetic ratings ({} users x {} items, rank {}, noise {}), kept \
                     as {} once the run is accepted",
                    spec.ratings,
                    spec.users,
                    spec.items,
                    spec.rank,
                    spec.noise,
                    staged.target().display()
                );
                (staged.target().to_path_buf(), Some(staged))
            }
        };
        let ratings = read_ratings(staged.as_ref().map_or(&path, |s| s.path()))?;
        let (users, items) = (ratings.users(), ratings.items());
        let (train, test) = ratings.split(cli.test_fraction, seed)?;
        println!(
            "{}: {} ratings of {users} users x {items} items ({:.2}% filled); {} train, {} test",
            path.display(),
            ratings.ratings.len(),
            100.0 * ratings.ratings.len() as f64 / (users * items) as f64,
            train.len(),
            test.len()
        );
        // Checked before training: a user missing from the file would be refused after it.
        let user_id = cli.user.unwrap_or(ratings.user_ids[0]);
        let user =
            ratings
                .user_ids
                .binary_search(&user_id)
                .map_err(|_| TrainError::InvalidArgument {
                    what: "--user",
                    message: format!("{user_id} does not appear in {}", path.display()),
                })?;
        // Predictions are clamped to the file's own scale (1-5 stars, 1-10, 0.5-5, ...).
        let (lowest, highest) = ratings
            .ratings
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
                (lo.min(f64::from(r.value)), hi.max(f64::from(r.value)))
            });
        let device = &devices.device;
        device.seed(seed);
        let model_dir = cli
            .pretrained
            .model
            .clone()
            .unwrap_or_else(|| out.join("model"));
        let (model, epochs, seconds) = match &cli.pretrained.model {
            Some(dir) => {
                // Scored on this split only if it is the one it trained on.
                check_trained_on(dir, &ItemRatingsDataset::new(users, items, &train, &train))?;
                let model = AutoRec::load(dir, device)?;
                cli.output.begin_app_folder(&out)?;
                (model, Vec::new(), None)
            }
            None => {
                let model = AutoRecConfig::new(users)
                    .with_min_rating(lowest)
                    .with_max_rating(highest.max(lowest + 1.0))
                    .with_hidden(cli.hidden)
                    .with_weight_decay(cli.weight_decay)
                    .try_init(device)?;
                // Each item's training ratings are its input; the targets are its training
                // ratings when training and its held-out ratings when validating.
                let options =
                    cli.output
                        .app_fit_options(&devices, &out, &model_dir, cli.train.capture);
                let fitted = fit(
                    model,
                    ItemRatingsDataset::new(users, items, &train, &train),
                    ItemRatingsDataset::new(users, items, &train, &test),
                    &training,
                    &options,
                )?;
                // Scored below as stored (`--weights f16`: rounded to 16 bits).
                let model = fitted
                    .model
                    .save_rounded(&model_dir, cli.output.weights.into())?;
                fitted.lock.check_in_place()?;
                (model, fitted.epochs, Some(fitted.seconds))
            }
        };
        if let Some(staged) = staged {
            staged.commit()?;
        }
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

        let queries: Vec<(usize, usize)> = test.iter().map(|r| (r.item, r.user)).collect();
        let predictions = predict_at(&model, (users, items), &train, &queries, 256, device)?;
        let report = ratings_report(&predictions, items, &train, &test);
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

        let every_item: Vec<(usize, usize)> = (0..items).map(|item| (item, user)).collect();
        let for_user = predict_at(&model, (users, items), &train, &every_item, 256, device)?;
        let recommended: Vec<(u64, f32)> = top_n(&for_user, user, &train, cli.top)
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
        let results = out.join("recommend.json");
        write_json(&results, &summary)?;
        println!(
            "\nresults: {}; model: {}",
            results.display(),
            model_dir.display()
        );
        Ok(())
    })
}
