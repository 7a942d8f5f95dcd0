//! A sentence autoencoder: an LSTM reads a sentence into a fixed-size code, another LSTM writes it
//! back. Reports token accuracy and perplexity on held-out sentences, shows reconstructions, and
//! finds the training sentences whose codes are closest to a query's.
//!
//! ```text
//! cargo run --release --example text_autoencoder                 # Debian's `fortunes` quotations
//! cargo run --release --example text_autoencoder -- --corpus my.txt --tokenizer char
//! cargo run --release --example text_autoencoder -- --model runs/text_autoencoder/model \
//!     --query "the meaning of life is simple."
//! ```

use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use serde::Serialize;

use autoencoders::cli::ranges;
use autoencoders::cli::{
    Defaults, DeviceArgs, InputArgs, LatentArgs, ModelDirArgs, OutputArgs, TrainArgs, exit_on_error,
};
use autoencoders::data::DataError;
use autoencoders::data::text::{
    FORTUNES_DIR, TextDataset, TokenizerKind, Vocabulary, read_corpus, sentences_for_training,
    split_train_test,
};
use autoencoders::models::{SaveFolder, TextAutoencoderConfig};
use autoencoders::run::{MachineInfo, write_json};
use autoencoders::table::Table;
use autoencoders::train::text::{
    TextReport, VOCAB_FILE, encode_sentences, evaluate_text, load_text_model, nearest_neighbours,
};
use autoencoders::train::{EpochMetrics, TrainError, check_trained_on, fit};

const NAME: &str = "text_autoencoder";
const DEFAULTS: Defaults = Defaults::new(10, 64, 64).with_learning_rate(2e-3);

#[derive(Clone, Copy, ValueEnum)]
enum Tokenizer {
    Word,
    Char,
}

#[derive(Parser)]
#[command(about = "Sentence autoencoder (LSTM encoder-decoder) on a text corpus")]
struct Cli {
    /// A text file (one sentence per line, or `fortune` entries separated by `%` lines) or a
    /// folder of such files (its `.txt` files and its files without an extension).
    #[arg(long, default_value = FORTUNES_DIR)]
    corpus: PathBuf,
    /// Word- or character-level tokens.
    #[arg(long, value_enum, default_value = "word")]
    tokenizer: Tokenizer,
    /// Vocabulary size cap, the four special tokens included.
    #[arg(long, value_parser = ranges::count::<5, 10_000_000>, default_value_t = 4000)]
    vocab_size: usize,
    /// Shortest sentence kept, in tokens.
    #[arg(long, value_parser = ranges::count::<1, 100_000>, default_value_t = 3)]
    min_tokens: usize,
    /// Longest sentence kept, in tokens.
    #[arg(long, value_parser = ranges::count::<1, 100_000>, default_value_t = 12)]
    max_tokens: usize,
    /// Use at most this many sentences (all by default).
    #[arg(long, value_parser = ranges::count::<2, { usize::MAX }>)]
    max_sentences: Option<usize>,
    /// Fraction of sentences held out.
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::open_fraction, default_value_t = 0.05)]
    test_fraction: f64,
    /// Token embedding size.
    #[arg(long, value_parser = ranges::count::<1, 65_536>, default_value_t = 128)]
    embed_dim: usize,
    /// LSTM state size.
    #[arg(long, value_parser = ranges::count::<1, 65_536>, default_value_t = 256)]
    hidden_dim: usize,
    /// Probability of hiding each decoder input word while training.
    #[arg(long, allow_negative_numbers = true, value_parser = ranges::fraction_below_one, default_value_t = 0.0)]
    word_dropout: f64,
    /// Sentences to find neighbours of (default: three held-out sentences).
    #[arg(long)]
    query: Vec<String>,
    /// Reconstructions to show.
    #[arg(long, value_parser = ranges::count::<0, 100_000>, default_value_t = 8)]
    show: usize,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    train: TrainArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    latent: LatentArgs,
    /// (A sentence model's folder holds its vocab.json too.)
    #[command(flatten)]
    pretrained: ModelDirArgs,
}

#[derive(Serialize)]
struct Summary {
    corpus: String,
    tokenizer: &'static str,
    vocabulary: usize,
    train_sentences: usize,
    test_sentences: usize,
    unknown_token_rate_test: f64,
    training_seconds: Option<f64>,
    epochs: Vec<EpochMetrics>,
    test: TextReport,
    neighbours: Vec<Neighbours>,
    machine: MachineInfo,
}

#[derive(Serialize)]
struct Neighbours {
    query: String,
    nearest: Vec<(String, f32)>,
}

fn load_corpus(
    cli: &Cli,
    kind: TokenizerKind,
    seed: u64,
) -> Result<(Vec<String>, Vec<String>), TrainError> {
    if !cli.corpus.exists() {
        let hint = if cli.corpus == Path::new(FORTUNES_DIR) {
            "install Debian's quotations with `apt-get install fortunes`, or pass --corpus FILE"
        } else {
            "pass --corpus with a text file or a folder of text files"
        };
        return Err(TrainError::InvalidArgument {
            what: "corpus",
            message: format!("{} does not exist: {hint}", cli.corpus.display()),
        });
    }
    let entries = read_corpus(&cli.corpus)?;
    let sentences = sentences_for_training(&entries, kind, cli.min_tokens, cli.max_tokens);
    if sentences.len() < 2 {
        return Err(DataError::InvalidArgument {
            what: "corpus",
            message: format!(
                "{} holds {} sentences of {}..={} tokens; widen --min-tokens/--max-tokens",
                cli.corpus.display(),
                sentences.len(),
                cli.min_tokens,
                cli.max_tokens
            ),
        }
        .into());
    }
    // Shuffle before the limit, so a limited run still samples the whole corpus.
    let (mut train, mut test) = split_train_test(sentences, cli.test_fraction, seed)?;
    if let Some(limit) = cli.max_sentences {
        let test_limit = ((limit as f64 * cli.test_fraction).ceil() as usize).max(1);
        train.truncate(limit.saturating_sub(test_limit).max(1));
        test.truncate(test_limit);
    }
    Ok((train, test))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| -> Result<(), TrainError> {
        cli.input.apply();
        OutputArgs::check_outside(&cli.output.dir(NAME), &cli.corpus, "--corpus")?;
        if cli.query.iter().any(|q| q.trim().is_empty()) {
            return Err(TrainError::InvalidArgument {
                what: "--query",
                message: "an empty query has no neighbours: give a sentence".into(),
            });
        }
        let training = cli.train.config(&DEFAULTS)?;
        let devices = cli.device.open()?;
        let device = &devices.device;
        device.seed(training.seed);
        let out = cli.output.dir(NAME);
        let model_dir = cli
            .pretrained
            .model
            .clone()
            .unwrap_or_else(|| out.join("model"));
        // A saved model comes with its vocabulary, checked to be the model's.
        let saved = cli
            .pretrained
            .model
            .as_ref()
            .map(|dir| load_text_model(dir, device))
            .transpose()?;
        let kind = match (&saved, cli.tokenizer) {
            (Some((_, v)), _) => v.kind,
            (None, Tokenizer::Word) => TokenizerKind::Word,
            (None, Tokenizer::Char) => TokenizerKind::Char,
        };
        let (train_sentences, test_sentences) = load_corpus(&cli, kind, training.seed)?;
        let vocabulary = match &saved {
            Some((_, v)) => v.clone(),
            None => Vocabulary::build(kind, &train_sentences, cli.vocab_size)?,
        };
        let train = TextDataset::new(&vocabulary, &train_sentences, cli.max_tokens);
        let test = TextDataset::new(&vocabulary, &test_sentences, cli.max_tokens);
        println!(
            "{}: {} training and {} held-out sentences of {}..={} tokens; vocabulary {} ({:.1}% of held-out tokens unknown)",
            cli.corpus.display(),
            train.items().len(),
            test.items().len(),
            cli.min_tokens,
            cli.max_tokens,
            vocabulary.len(),
            100.0 * test.unknown_rate()
        );

        let (model, epochs, seconds) = match saved {
            Some((model, _)) => {
                if let Some(dir) = &cli.pretrained.model {
                    // Scored on this split only if it is the one it trained on.
                    check_trained_on(dir, &train)?;
                }
                cli.output.begin_app_folder(&out)?;
                (model, Vec::new(), None)
            }
            None => {
                let config = TextAutoencoderConfig::new(vocabulary.len())
                    .with_embed_dim(cli.embed_dim)
                    .with_hidden_dim(cli.hidden_dim)
                    .with_latent_dim(cli.latent.latent_dim(&DEFAULTS))
                    .with_word_dropout(cli.word_dropout)
                    .with_vocab_checksum(Some(vocabulary.checksum()));
                let model = config.try_init(device)?;
                let options =
                    cli.output
                        .app_fit_options(&devices, &out, &model_dir, cli.train.capture);
                let fitted = fit(model, train.clone(), test.clone(), &training, &options)?;
                // Scored below as stored (`--weights f16`: rounded to 16 bits).
                let model = fitted
                    .model
                    .save_rounded(&model_dir, cli.output.weights.into())?;
                vocabulary.save(&model_dir.join(VOCAB_FILE))?;
                fitted.lock.check_in_place()?;
                (model, fitted.epochs, Some(fitted.seconds))
            }
        };

        let report = evaluate_text(&model, &test, 256, device)?;
        let mut scores = Table::new(["held-out sentences", "value"]);
        scores.row([
            "sentences / target tokens",
            &format!("{} / {}", report.sentences, report.tokens),
        ]);
        scores.row([
            "cross-entropy (nats/token)",
            &format!("{:.4}", report.cross_entropy),
        ]);
        scores.row(["perplexity", &format!("{:.2}", report.perplexity)]);
        scores.row([
            "token accuracy, teacher forcing",
            &format!("{:.2}%", 100.0 * report.teacher_forced_accuracy),
        ]);
        scores.row([
            "token accuracy, greedy from the code",
            &format!("{:.2}%", 100.0 * report.greedy_accuracy),
        ]);
        scores.row([
            "sentences rebuilt exactly",
            &format!("{:.2}%", 100.0 * report.exact_sentences),
        ]);
        print!("\n{scores}");

        let shown: Vec<_> = test.items().iter().take(cli.show).cloned().collect();
        let mut examples = Table::new(["held-out sentence", "reconstruction"]);
        if !shown.is_empty() {
            let batch = autoencoders::data::text::TextBatcher::batch_items(&shown, device);
            let decoded = model.reconstruct(batch.tokens, batch.last, cli.max_tokens)?;
            for (item, out) in shown.iter().zip(&decoded) {
                examples.row([vocabulary.decode(&item.ids), vocabulary.decode(out)]);
            }
        }
        print!("\n{examples}");

        let dim = model.config().latent_dim;
        let codes = encode_sentences(&model, &train, 256, device)?;
        let queries: Vec<String> = if cli.query.is_empty() {
            test_sentences.iter().take(3).cloned().collect()
        } else {
            cli.query.clone()
        };
        let query_data = TextDataset::new(&vocabulary, &queries, cli.max_tokens);
        let query_codes = encode_sentences(&model, &query_data, 256, device)?;
        let mut neighbours = Vec::new();
        for (query, code) in queries.iter().zip(query_codes.chunks(dim)) {
            if vocabulary
                .encode(query)
                .iter()
                .all(|&id| id == autoencoders::data::text::UNK)
            {
                eprintln!(
                    "note: no token of {query:?} is in the vocabulary: its code, and so its \
                     neighbours, say nothing about it"
                );
            }
            let nearest: Vec<(String, f32)> = nearest_neighbours(&codes, dim, code, 5)
                .into_iter()
                .map(|(i, s)| (vocabulary.decode(&train.items()[i].ids), s))
                .collect();
            let mut table = Table::new(["cosine", &format!("nearest to: {query}")]);
            for (sentence, similarity) in &nearest {
                table.row([format!("{similarity:.3}"), sentence.clone()]);
            }
            print!("\n{table}");
            neighbours.push(Neighbours {
                query: query.clone(),
                nearest,
            });
        }

        let summary = Summary {
            corpus: cli.corpus.display().to_string(),
            tokenizer: match kind {
                TokenizerKind::Word => "word",
                TokenizerKind::Char => "char",
            },
            vocabulary: vocabulary.len(),
            train_sentences: train.items().len(),
            test_sentences: test.items().len(),
            unknown_token_rate_test: test.unknown_rate(),
            training_seconds: seconds,
            epochs,
            test: report,
            neighbours,
            machine: MachineInfo::detect(),
        };
        let path = out.join("text_autoencoder.json");
        write_json(&path, &summary)?;
        println!(
            "\nresults: {}; model: {}",
            path.display(),
            model_dir.display()
        );
        Ok(())
    })
}
