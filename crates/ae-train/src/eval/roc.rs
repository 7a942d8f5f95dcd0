//! ROC curves of anomaly detectors, drawn with `plotters` in the style of [`super::plots`].

use std::path::Path;

use plotters::prelude::*;

use super::plots::{FAMILY, TAB10, render};
use crate::error::Result;

/// The most points drawn of one curve: a test split of a million rows has as many thresholds,
/// more than a picture's pixels show.
const MAX_POINTS: usize = 2_000;

/// One curve of [`save_roc_curves`]: its legend entry and its `(false-positive rate,
/// true-positive rate)` points (`ae_train::anomaly::roc_curve`).
pub struct RocCurve<'a> {
    /// The legend entry, e.g. `class 3 (AUROC 0.912)`.
    pub label: String,
    /// The points, from `(0, 0)` to `(1, 1)`.
    pub points: &'a [(f64, f64)],
}

/// Draws ROC curves, one colour each (the first ten in the legend), over the diagonal of a
/// detector that guesses, as a square PNG with axes, ticks and a legend.
///
/// # Errors
/// When the file cannot be written.
pub fn save_roc_curves(path: &Path, title: &str, curves: &[RocCurve<'_>]) -> Result<()> {
    render(path, (560, 560), "ROC curves", |root| {
        let e = |err: plotters::drawing::DrawingAreaErrorKind<_>| err.to_string();
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FAMILY, 18))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("false-positive rate (normal data flagged)")
            .y_desc("true-positive rate (anomalies flagged)")
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .map_err(e)?;
        let grey = RGBColor(160, 160, 160);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                grey.stroke_width(1),
            ))
            .map_err(e)?
            .label("chance")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey));
        for (k, curve) in curves.iter().enumerate() {
            let [r, g, b] = TAB10[k % TAB10.len()];
            let colour = RGBColor(r, g, b);
            let series = chart
                .draw_series(LineSeries::new(
                    thinned(curve.points),
                    colour.stroke_width(2),
                ))
                .map_err(e)?;
            if k < TAB10.len() {
                series.label(curve.label.as_str()).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FAMILY, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(e)
    })
}

/// At most [`MAX_POINTS`] of `points`, evenly spaced, the first and last kept.
fn thinned(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let step = points.len().div_ceil(MAX_POINTS);
    let mut kept: Vec<(f64, f64)> = points.iter().step_by(step).copied().collect();
    if let Some(&last) = points.last()
        && kept.last() != Some(&last)
    {
        kept.push(last);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_curves_are_thinned_keeping_both_ends() {
        let points: Vec<(f64, f64)> = (0..=10_001).map(|i| (i as f64, i as f64)).collect();
        let kept = thinned(&points);
        assert!(kept.len() <= MAX_POINTS + 1, "{}", kept.len());
        assert_eq!(kept.first(), points.first());
        assert_eq!(kept.last(), points.last());
        assert_eq!(thinned(&points[..5]), points[..5]);
    }

    #[test]
    fn roc_curves_are_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roc.png");
        let curve = [(0.0, 0.0), (0.1, 0.7), (1.0, 1.0)];
        let curves = [RocCurve {
            label: "test (AUROC 0.93)".into(),
            points: &curve,
        }];
        save_roc_curves(&path, "ROC", &curves).unwrap();
        let picture = image::open(&path).unwrap().into_rgb8();
        assert_eq!(picture.dimensions(), (560, 560));
        // The curve's colour (tab10's first) is on the canvas.
        let [r, g, b] = TAB10[0];
        assert!(picture.pixels().any(|p| p.0 == [r, g, b]));
    }
}
