//! Explore a trained autoencoder in the browser: the map of the test set's codes coloured by
//! label (hover shows the image, a click decodes the point), a canvas to draw on (its code,
//! reconstruction and anomaly score with its percentile), and for a VAE samples and the
//! interpolation between two picked images.
//!
//! ```text
//! cargo run --release --example explore                                  # a shipped VAE
//! cargo run --release --example explore -- --pretrained keras-mlp/fashion-mnist
//! cargo run --release --example explore -- --model runs/train_vae-mnist-sample
//! ```
//!
//! It serves on 127.0.0.1 (`--bind` to change) and prints the address to open, with the token
//! the API requires.

mod api;
mod connections;
mod explorer;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::Parser;

use autoencoders::cli::{DeviceArgs, exit_on_error};
use autoencoders::data::DatasetSource;
use autoencoders::data::image_folder::ColorMode;
use autoencoders::models::{Autoencoder, load_model, pretrained};
use autoencoders::train::TrainError;

use crate::explorer::Explorer;

#[derive(Parser)]
#[command(about = "Explore a trained autoencoder's codes in the browser")]
// One device serves the page: the trainers' data-parallel flags are not shown (and are refused).
#[command(mut_arg("devices", |a| a.hide(true)), mut_arg("strategy", |a| a.hide(true)))]
struct Cli {
    /// A shipped model, MODEL/DATASET (`cargo run --example explore -- --list` lists them).
    #[arg(long, default_value = "vae-mlp/mnist-sample", conflicts_with = "model")]
    pretrained: String,
    /// A trained model folder (any trainer's output folder) instead of a shipped model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The images to explore a --model folder with (a shipped model uses its own dataset):
    /// mnist-sample, fashion-mnist, mnist, or an image folder.
    #[arg(long, default_value = "mnist-sample")]
    dataset: String,
    /// Folder of the dataset's files (Fashion-MNIST, MNIST).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Test images on the map.
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=20_000), default_value_t = 2000)]
    limit: u64,
    /// Address to serve on; anything but loopback exposes the explorer to the network.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Port (0: any free port; the address printed says which).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// A file whose first line is the token the API requires (else AE_EXPLORE_TOKEN, else a
    /// random one, printed in the address).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// List the shipped models and exit.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    exit_on_error(|| -> Result<(), TrainError> {
        if cli.list {
            for (model, dataset) in autoencoders::models::pretrained_models() {
                println!("{model}/{dataset}");
            }
            return Ok(());
        }
        if cli.device.devices.len() > 1 {
            return Err(TrainError::InvalidArgument {
                what: "--devices",
                message: "the explorer runs on one device: give --device".into(),
            });
        }
        // Bound first: a port in use is said at once, not after the test images are encoded.
        let listener = bind(&cli)?;
        let device = cli.device.open()?.device;
        let (name, model, source) = match &cli.model {
            Some(dir) => {
                let model = load_model(dir, &device)?;
                let mut source = DatasetSource::from_name(&cli.dataset, cli.data_dir.as_deref())?;
                if let DatasetSource::ImageFolder { options, seed, .. } = &mut source {
                    // Read at the size and colour the model takes, and split as its trainer
                    // split the folder (the seed in its run.json), so that the map shows test
                    // images.
                    let [channels, height, width] = model.input_shape();
                    options.height = height as u32;
                    options.width = width as u32;
                    options.color = if channels == 3 {
                        ColorMode::Rgb
                    } else {
                        ColorMode::Grayscale
                    };
                    *seed = trained_seed(dir);
                }
                (dir.display().to_string(), model, source)
            }
            None => {
                let (model, dataset) =
                    cli.pretrained
                        .split_once('/')
                        .ok_or_else(|| TrainError::InvalidArgument {
                            what: "--pretrained",
                            message: format!(
                                "`{}` is not MODEL/DATASET (e.g. vae-mlp/mnist-sample)",
                                cli.pretrained
                            ),
                        })?;
                (
                    cli.pretrained.clone(),
                    pretrained(model, dataset, &device)?,
                    DatasetSource::from_name(dataset, cli.data_dir.as_deref())?,
                )
            }
        };
        let token = token(&cli)?;
        eprintln!("encoding the test images of {} ...", source.name());
        let test = source.load()?.test;
        let explorer = Explorer::new(name, model, test, cli.limit as usize, device)?;
        serve(&cli, listener, explorer, token)
    })
}

/// The seed the trainer of the model in `dir` split its data with (its `run.json`), or the
/// trainers' default.
fn trained_seed(dir: &std::path::Path) -> u64 {
    autoencoders::run::RunSettings::load(dir).map_or_else(
        || autoencoders::train::TrainingConfig::new().seed,
        |trained| trained.training.seed,
    )
}

/// The API's token: from --token-file, AE_EXPLORE_TOKEN, or 128 random bits. It goes into the
/// printed address as it is, so it is held to characters a URL carries unchanged.
fn token(cli: &Cli) -> Result<String, TrainError> {
    let checked = |token: String, what: &'static str| {
        let safe = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
        if (8..=256).contains(&token.len()) && token.chars().all(safe) {
            Ok(token)
        } else {
            Err(TrainError::InvalidArgument {
                what,
                message: "a token is 8 to 256 of the characters A-Z a-z 0-9 - . _ ~ (it goes \
                          into the address to open)"
                    .into(),
            })
        }
    };
    if let Some(path) = &cli.token_file {
        let text =
            autoencoders::io::read_to_string(path, autoencoders::io::Limit::JSON).map_err(|e| {
                TrainError::InvalidArgument {
                    what: "--token-file",
                    message: e.to_string(),
                }
            })?;
        let first = text.lines().next().unwrap_or("").trim().to_string();
        return checked(first, "--token-file");
    }
    if let Ok(token) = std::env::var("AE_EXPLORE_TOKEN")
        && !token.is_empty()
    {
        return checked(token, "AE_EXPLORE_TOKEN");
    }
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    read.map_err(|e| {
        TrainError::Training(format!(
            "no random token (/dev/urandom: {e}); set AE_EXPLORE_TOKEN"
        ))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The listening socket of `--bind` and `--port`.
fn bind(cli: &Cli) -> Result<std::net::TcpListener, TrainError> {
    let address = std::net::SocketAddr::new(cli.bind, cli.port);
    let refused = |e: std::io::Error| TrainError::InvalidArgument {
        what: "--port",
        message: format!("cannot listen on {address}: {e}; pick another --port (0: any free one)"),
    };
    let listener = std::net::TcpListener::bind(address).map_err(refused)?;
    listener.set_nonblocking(true).map_err(refused)?;
    Ok(listener)
}

fn serve(
    cli: &Cli,
    listener: std::net::TcpListener,
    explorer: Explorer,
    token: String,
) -> Result<(), TrainError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| TrainError::Training(format!("cannot start the server's runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| TrainError::Training(format!("the listener: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| TrainError::Training(format!("the listener's address: {e}")))?;
        let name = explorer.name.clone();
        let state = api::AppState {
            explorer: Arc::new(Mutex::new(explorer)),
            token: token.as_str().into(),
        };
        println!("exploring {name}: open http://{local}/?token={token}");
        if cli.bind.is_unspecified() {
            println!(
                "(listening on every address of this machine: use one of them, or 127.0.0.1, in \
                 place of {})",
                cli.bind
            );
        }
        let _ = std::io::stdout().flush();
        connections::serve(listener, api::router(state), async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        Ok(())
    })
}
