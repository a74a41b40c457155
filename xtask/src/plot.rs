//! The figures the benchmark and the load test draw: named lines of points
//! on a logarithmic x axis, as SVG.

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

/// What a figure shows and how.
#[derive(Debug, Clone)]
pub struct Figure<'a> {
    /// The caption above the chart.
    pub title: &'a str,
    /// What the x axis counts (always logarithmic).
    pub x_desc: &'a str,
    /// What the y axis measures.
    pub y_desc: &'a str,
    /// A logarithmic y axis (values spanning orders of magnitude), or a
    /// linear one from zero.
    pub y_log: bool,
    /// How many labels the x axis gets.
    pub x_labels: usize,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

/// One line of a figure: its legend and its points.
#[derive(Debug, Clone)]
pub struct Line {
    /// The legend's text.
    pub label: String,
    /// The line's colour.
    pub colour: RGBColor,
    /// (x, y) points, in x order.
    pub points: Vec<(f64, f64)>,
}

/// Draws `lines` into an SVG file at `path`; lines without points are left
/// out of the chart and its legend.
pub fn lines(path: &Path, figure: &Figure<'_>, lines: &[Line]) -> Result<()> {
    let draw =
        |e: &dyn std::fmt::Debug| anyhow::anyhow!("failed to draw {}: {e:?}", path.display());
    let points = || lines.iter().flat_map(|l| l.points.iter().copied());
    let x_min = points().map(|p| p.0).fold(f64::MAX, f64::min);
    let x_max = points().map(|p| p.0).fold(0.0, f64::max);
    let y_min = points().map(|p| p.1).fold(f64::MAX, f64::min);
    let y_max = points().map(|p| p.1).fold(0.0, f64::max);
    let x_range = if x_max > x_min {
        (x_min * 0.8)..(x_max * 1.25)
    } else {
        (x_min * 0.5)..(x_min * 2.0)
    };
    let root = SVGBackend::new(path, figure.size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw(&e))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(figure.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56);
    if figure.y_log {
        let y_range = ((y_min / 2.0).max(1e-3))..((y_max * 2.0).max(1.0));
        let chart = builder
            .build_cartesian_2d(x_range.log_scale(), y_range.log_scale())
            .map_err(|e| draw(&e))?;
        finish(chart, figure, lines, &|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y}")
            }
        })
        .map_err(|e| draw(&e))?;
    } else {
        let y_range = 0.0..(y_max * 1.15).max(1.0);
        let chart = builder
            .build_cartesian_2d(x_range.log_scale(), y_range)
            .map_err(|e| draw(&e))?;
        finish(chart, figure, lines, &|y| format!("{y:.0}")).map_err(|e| draw(&e))?;
    }
    root.present().map_err(|e| draw(&e))?;
    Ok(())
}

/// The mesh, the lines with their points, and the legend, on either kind
/// of y axis.
fn finish<'a, Y>(
    mut chart: ChartContext<
        'a,
        SVGBackend<'a>,
        Cartesian2d<plotters::coord::combinators::LogCoord<f64>, Y>,
    >,
    figure: &Figure<'_>,
    lines: &[Line],
    y_format: &dyn Fn(&f64) -> String,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>>
where
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(figure.x_desc)
        .y_desc(figure.y_desc)
        .x_labels(figure.x_labels)
        .y_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(y_format)
        .light_line_style(TRANSPARENT)
        .draw()?;
    for line in lines.iter().filter(|l| !l.points.is_empty()) {
        let colour = line.colour;
        chart
            .draw_series(LineSeries::new(line.points.clone(), colour.stroke_width(2)))?
            .label(line.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart.draw_series(
            line.points
                .iter()
                .map(|p| Circle::new(*p, 3, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
