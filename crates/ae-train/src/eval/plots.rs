//! Pictures a person reads, drawn with `plotters`: curves and scatter plots with axes, ticks and
//! legends, and the text of labelled image grids. Text is set in DejaVu Sans, embedded (its
//! licence is `assets/fonts/LICENSE-DejaVu.txt`), so pictures look the same on every machine.

use std::ops::Range;
use std::path::Path;
use std::sync::Once;

use image::RgbImage;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{Result, TrainError};
use crate::fit::EpochMetrics;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The family every text of these pictures uses.
pub(crate) const FAMILY: &str = "sans-serif";

/// Class colours (matplotlib's `tab10`), as RGB bytes.
pub const TAB10: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Registers the embedded font with plotters (once per process).
pub(crate) fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The font is part of the crate: it always parses.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

fn plot_error(what: &'static str) -> impl Fn(String) -> TrainError {
    move |message| TrainError::InvalidArgument { what, message }
}

/// Renders `draw` on a white `width` x `height` RGB canvas and writes it as a PNG (atomically).
pub(crate) fn render(
    path: &Path,
    (width, height): (u32, u32),
    what: &'static str,
    draw: impl FnOnce(
        &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    ) -> std::result::Result<(), String>,
) -> Result<()> {
    register_font();
    let mut buffer = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        draw(&root).map_err(plot_error(what))?;
        root.present()
            .map_err(|e| plot_error(what)(e.to_string()))?;
    }
    let picture = RgbImage::from_raw(width, height, buffer)
        .ok_or_else(|| plot_error(what)("the canvas has the wrong size".into()))?;
    super::pictures::write_png(path, |tmp| {
        picture.save_with_format(tmp, image::ImageFormat::Png)
    })
}

/// A padded range around `values` (a unit range around a single value).
fn padded(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.1
    };
    (lo - pad)..(hi + pad)
}

/// Draws the loss of every epoch, one line per split (`train`, `valid`), as `loss.png` beside
/// `metrics.jsonl`: epochs on the x axis, the epoch mean of the metric `Loss` on the y axis.
/// Nothing is drawn for an empty history.
///
/// # Errors
/// When the file cannot be written.
pub fn save_loss_curves(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = ["train", "valid"]
        .into_iter()
        .map(|split| {
            let points = history
                .iter()
                .filter(|e| e.split == split)
                .filter_map(|e| e.metrics.get("Loss").map(|&loss| (e.epoch as f64, loss)))
                .filter(|(_, loss)| loss.is_finite())
                .collect();
            (split, points)
        })
        .filter(|(_, points): &(&str, Vec<(f64, f64)>)| !points.is_empty())
        .collect();
    if series.is_empty() {
        return Ok(());
    }
    let epochs = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(e, _)| *e))
        .fold(1.0, f64::max);
    let y_range = padded(series.iter().flat_map(|(_, p)| p.iter().map(|(_, l)| *l)));
    render(path, (720, 440), "loss curves", |root| {
        let e = |err: plotters::drawing::DrawingAreaErrorKind<_>| err.to_string();
        let mut chart = ChartBuilder::on(root)
            .caption("Loss per epoch", (FAMILY, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5..epochs + 0.5, y_range)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss (epoch mean)")
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 15))
            .light_line_style(RGBColor(238, 238, 238))
            .x_labels((epochs as usize + 1).min(12))
            // Whole epochs only: the mesh may put ticks between them.
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 && *x >= 1.0 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(e)?;
        for (k, (split, points)) in series.iter().enumerate() {
            let colour = RGBColor(TAB10[k][0], TAB10[k][1], TAB10[k][2]);
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(e)?
                .label(*split)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(e)?;
        }
        chart
            .configure_series_labels()
            .label_font((FAMILY, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(e)
    })
}

/// One panel of [`save_scatter_panels`]: a title and 2-D points with their class.
pub struct ScatterPanel<'a> {
    /// The panel's title.
    pub title: &'a str,
    /// `x, y` pairs.
    pub points: &'a [f32],
    /// The class of each point.
    pub labels: &'a [u32],
    /// The axes' names.
    pub axes: [&'a str; 2],
}

/// Draws 2-D points coloured by class, one square panel of `side` pixels per [`ScatterPanel`]
/// side by side, each with its title, axes and ticks (scaled to its 1st–99th percentile box), and
/// one legend of `class_names` (colours in class order).
///
/// # Errors
/// When a panel has not two values per label, or the file cannot be written.
pub fn save_scatter_panels(
    path: &Path,
    panels: &[ScatterPanel<'_>],
    class_names: &[String],
    side: u32,
) -> Result<()> {
    for panel in panels {
        if panel.points.len() != 2 * panel.labels.len() {
            return Err(TrainError::InvalidArgument {
                what: "scatter points",
                message: format!(
                    "{} values for {} labels",
                    panel.points.len(),
                    panel.labels.len()
                ),
            });
        }
    }
    let legend_height = 36;
    let width = (panels.len() as u32).max(1) * side;
    render(
        path,
        (width, side + legend_height),
        "scatter plot",
        |root| {
            let e = |err: plotters::drawing::DrawingAreaErrorKind<_>| err.to_string();
            let (plots, legend) = root.split_vertically(side);
            let areas = plots.split_evenly((1, panels.len().max(1)));
            for (panel, area) in panels.iter().zip(areas.iter()) {
                let range = |axis: usize| {
                    let mut v: Vec<f64> = panel
                        .points
                        .iter()
                        .skip(axis)
                        .step_by(2)
                        .map(|&x| f64::from(x))
                        .collect();
                    v.retain(|x| x.is_finite());
                    v.sort_by(f64::total_cmp);
                    if v.is_empty() {
                        return 0.0..1.0;
                    }
                    let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
                    padded([at(0.01), at(0.99)].into_iter())
                };
                let mut chart = ChartBuilder::on(area)
                    .caption(panel.title, (FAMILY, 16))
                    .margin(8)
                    .x_label_area_size(38)
                    .y_label_area_size(50)
                    .build_cartesian_2d(range(0), range(1))
                    .map_err(e)?;
                chart
                    .configure_mesh()
                    .x_desc(panel.axes[0])
                    .y_desc(panel.axes[1])
                    .label_style((FAMILY, 11))
                    .axis_desc_style((FAMILY, 13))
                    .draw()
                    .map_err(e)?;
                let points = panel
                    .points
                    .chunks_exact(2)
                    .zip(panel.labels)
                    .map(|(xy, &label)| {
                        let [r, g, b] = TAB10[label as usize % TAB10.len()];
                        Circle::new(
                            (f64::from(xy[0]), f64::from(xy[1])),
                            2,
                            RGBColor(r, g, b).filled(),
                        )
                    });
                chart.draw_series(points).map_err(e)?;
            }
            // The legend: a swatch and the class name for each class.
            let mut x = 10;
            for (k, name) in class_names.iter().enumerate() {
                let [r, g, b] = TAB10[k % TAB10.len()];
                legend
                    .draw(&Circle::new((x + 5, 16), 5, RGBColor(r, g, b).filled()))
                    .map_err(e)?;
                legend
                    .draw(&Text::new(name.as_str(), (x + 14, 8), (FAMILY, 13)))
                    .map_err(e)?;
                x += 24 + 8 * name.chars().count() as i32;
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn epoch(epoch: usize, split: &str, loss: f64) -> EpochMetrics {
        EpochMetrics {
            epoch,
            split: split.into(),
            metrics: BTreeMap::from([("Loss".to_string(), loss)]),
            elapsed_seconds: None,
            devices: None,
            hardware: None,
            precision: None,
        }
    }

    #[test]
    fn loss_curves_draw_both_splits_in_their_colours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        let history: Vec<EpochMetrics> = (1..=5)
            .flat_map(|e| {
                [
                    epoch(e, "train", 1.0 / e as f64),
                    epoch(e, "valid", 1.2 / e as f64),
                ]
            })
            .collect();
        save_loss_curves(&path, &history).unwrap();
        let picture = image::open(&path).unwrap().to_rgb8();
        assert_eq!(picture.dimensions(), (720, 440));
        let count = |[r, g, b]: [u8; 3]| picture.pixels().filter(|p| p.0 == [r, g, b]).count();
        assert!(count(TAB10[0]) > 200, "train line: {}", count(TAB10[0]));
        assert!(count(TAB10[1]) > 200, "valid line: {}", count(TAB10[1]));
        // Text was drawn: some dark pixels that are not the lines.
        assert!(
            picture
                .pixels()
                .filter(|p| p.0[0] < 60 && p.0[1] < 60 && p.0[2] < 60)
                .count()
                > 500
        );
    }

    #[test]
    fn no_history_draws_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        save_loss_curves(&path, &[]).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn scatter_panels_refuse_points_without_labels() {
        let dir = tempfile::tempdir().unwrap();
        let panel = ScatterPanel {
            title: "codes",
            points: &[0.0, 1.0, 2.0],
            labels: &[0],
            axes: ["x", "y"],
        };
        assert!(save_scatter_panels(&dir.path().join("s.png"), &[panel], &[], 300).is_err());
    }

    #[test]
    fn scatter_panels_draw_every_class_colour() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scatter.png");
        let points: Vec<f32> = (0..200)
            .flat_map(|i| [i as f32 % 10.0, (i / 10) as f32])
            .collect();
        let labels: Vec<u32> = (0..200).map(|i| i % 10).collect();
        let names: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let panel = |title| ScatterPanel {
            title,
            points: &points,
            labels: &labels,
            axes: ["PC 1", "PC 2"],
        };
        save_scatter_panels(&path, &[panel("a"), panel("b")], &names, 320).unwrap();
        let picture = image::open(&path).unwrap().to_rgb8();
        assert_eq!(picture.dimensions(), (640, 356));
        for colour in TAB10 {
            assert!(
                picture.pixels().any(|p| p.0 == colour),
                "{colour:?} missing"
            );
        }
    }
}
