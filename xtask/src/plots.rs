//! SVG plots (plotters, SVG backend): line charts in one or more panels.

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One line.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points, in x order; non-finite points are dropped.
    pub points: Vec<(f64, f64)>,
    /// Dashed (reference lines) rather than solid.
    pub dashed: bool,
    /// Index into the palette (the same method keeps its colour across plots).
    pub color: usize,
}

/// One chart.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Title above the chart.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// A vertical marker line and its legend text.
    pub vline: Option<(f64, String)>,
}

/// Twelve distinguishable colours (Tableau 10 plus two darker tones): the engine's nine
/// algorithms and the other methods each get their own before any repeats.
const PALETTE: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
    RGBColor(127, 127, 127),
    RGBColor(0, 0, 128),
    RGBColor(128, 0, 0),
];

/// The palette colour of `i`.
fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Draws `panels` in a grid of `cols` columns into an SVG file at `path`.
pub fn draw(path: &Path, panels: &[Panel], cols: usize) -> Result<()> {
    let cols = cols.max(1).min(panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let size = (560 * cols as u32, 400 * rows as u32);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, panel) in root.split_evenly((rows, cols)).iter().zip(panels) {
        draw_panel(area, panel).with_context(|| format!("plot `{}`", panel.title))?;
    }
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The finite points of a series.
fn finite(s: &Series, log_x: bool) -> Vec<(f64, f64)> {
    s.points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_x || *x > 0.0))
        .collect()
}

fn draw_panel(area: &DrawingArea<SVGBackend<'_>, Shift>, p: &Panel) -> Result<()> {
    let pts: Vec<(f64, f64)> = p.series.iter().flat_map(|s| finite(s, p.log_x)).collect();
    let (mut x0, mut x1, mut y0, mut y1) = pts.iter().fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    if pts.is_empty() {
        (x0, x1, y0, y1) = (1.0, 2.0, 0.0, 1.0);
    }
    if let Some((v, _)) = p.vline {
        x0 = x0.min(v);
        x1 = x1.max(v);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let span = (y1 - y0).max(1e-4);
    // Headroom above the data for the legend (about 16 px per entry in a ~320 px plot), so
    // that the legend never hides a line.
    let entries = p.series.len() + usize::from(p.vline.is_some());
    let legend = (entries as f64 * 16.0 + 16.0).min(220.0);
    let head = span * legend / (320.0 - legend);
    let yr = (y0 - 0.04 * span)..(y1 + head);
    if p.log_x {
        draw_with(area, p, (x0..x1).log_scale(), yr)
    } else {
        draw_with(area, p, x0..x1, yr)
    }
}

fn draw_with<XR>(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    p: &Panel,
    xr: XR,
    yr: Range<f64>,
) -> Result<()>
where
    XR: AsRangedCoord<Value = f64>,
    XR::CoordDescType: ValueFormatter<f64>,
{
    let (y_lo, y_hi) = (yr.start, yr.end);
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(62)
        .build_cartesian_2d(xr, yr)?;
    chart
        .configure_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .y_label_formatter(&|y| format!("{y:.3}"))
        .x_label_formatter(&|x| tick(*x))
        .x_labels(10)
        .light_line_style(WHITE)
        .draw()?;
    for s in &p.series {
        let c = color(s.color);
        let style = ShapeStyle::from(&c).stroke_width(2);
        let pts = finite(s, p.log_x);
        let single = pts.len() == 1;
        if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts.clone(), 6, 4, style))?
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c));
        } else {
            chart
                .draw_series(LineSeries::new(pts.clone(), style))?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        if single || pts.len() <= 12 {
            chart.draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), 3, c.filled())))?;
        }
    }
    if let Some((v, ref name)) = p.vline {
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(v, y_lo), (v, y_hi)],
                4,
                4,
                ShapeStyle::from(&grey).stroke_width(1),
            ))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}

/// An axis tick: whole numbers without decimals, others with up to 3 significant decimals.
fn tick(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
