//! Cuts real photographs into a folder of 64x64 colour patches for anomaly detection: every other
//! patch as it is (`normal/`), the others with a defect drawn in (`blot/`, `scratch/`,
//! `shift/`). The default photographs are scikit-image's public-domain samples as Debian ships
//! them (package `python3-skimage`).
//!
//! ```text
//! cargo run --release --example photo_patches -- --out runs/patches
//! cargo run --release --example anomaly_oneclass -- --dataset image-folder \
//!     --data-dir runs/patches --image-size 64 --classes 1 --epochs 30
//! ```

use std::path::PathBuf;

use clap::Parser;

use autoencoders::cli::{exit_on_error, ranges};
use autoencoders::data::patches::{PATCH_CLASSES, PatchOptions, write_defect_patches};
use autoencoders::train::TrainError;

/// Where Debian's `python3-skimage` installs its sample images.
const SKIMAGE_DATA: &str = "/usr/lib/python3/dist-packages/skimage/data";
/// The sample photographs used, all public domain or CC0 (see `_fetchers.py` beside them):
/// the astronaut Eileen Collins (NASA), immunohistochemistry staining, Chelsea the cat, a coffee
/// cup, a human retina, the DSCOVR launch (SpaceX).
const PHOTOS: [&str; 6] = [
    "astronaut.png",
    "ihc.png",
    "chelsea.png",
    "coffee.png",
    "retina.jpg",
    "rocket.jpg",
];

#[derive(Parser)]
#[command(about = "Cut photographs into normal and defective colour patches")]
struct Cli {
    /// Folder of the photographs (scikit-image's sample data).
    #[arg(long, default_value = SKIMAGE_DATA)]
    photos: PathBuf,
    /// Photographs to use (file names in --photos); default: six public-domain samples.
    #[arg(long, value_delimiter = ',')]
    names: Vec<String>,
    /// Output folder (one sub-folder per class); an earlier set of patches there is replaced.
    #[arg(long, default_value = "runs/patches")]
    out: PathBuf,
    /// Patch side in pixels.
    #[arg(long, value_parser = ranges::count::<8, 1024>, default_value_t = 64)]
    size: usize,
    /// Distance between patches (less than --size: they overlap).
    #[arg(long, value_parser = ranges::count::<1, 1024>, default_value_t = 32)]
    stride: usize,
    /// Longer side of each photograph before cutting (at most 8192).
    #[arg(long, value_parser = ranges::count::<8, 8192>, default_value_t = 512)]
    long_side: usize,
    /// Seed of the defects.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    exit_on_error(|| -> Result<(), TrainError> {
        if !cli.photos.is_dir() {
            return Err(TrainError::InvalidArgument {
                what: "--photos",
                message: format!(
                    "{} is not a folder. Debian ships the photographs in python3-skimage: \
                     `apt-get install python3-skimage`, or without its Python dependencies \
                     `apt-get download python3-skimage && dpkg -x python3-skimage_*.deb DIR`, \
                     then --photos DIR/usr/lib/python3/dist-packages/skimage/data",
                    cli.photos.display()
                ),
            });
        }
        let names: Vec<String> = if cli.names.is_empty() {
            PHOTOS.iter().map(|s| s.to_string()).collect()
        } else {
            cli.names.clone()
        };
        let photos: Vec<PathBuf> = names.iter().map(|n| cli.photos.join(n)).collect();
        // The ranges above fit u32.
        let options = PatchOptions {
            size: cli.size as u32,
            stride: cli.stride as u32,
            long_side: cli.long_side as u32,
        };
        let counts = write_defect_patches(&photos, &cli.out, options, cli.seed)?;
        println!(
            "{} patches of {}x{} from {} photographs in {}:",
            counts.iter().sum::<usize>(),
            cli.size,
            cli.size,
            photos.len(),
            cli.out.display()
        );
        for (class, count) in PATCH_CLASSES.iter().zip(counts) {
            println!("  {class:<8} {count}");
        }
        println!(
            "class numbers for --classes: {}",
            PATCH_CLASSES
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{i} = {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(())
    })
}
