//! The figures the benchmark, the load test and the case study draw, as
//! SVG: named lines of points on a logarithmic x axis, and groups of
//! horizontal bars, one per category, on a logarithmic x axis.

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

/// One group of bars: its legend, its colour, and one value per category
/// (a category without a value gets no bar).
#[derive(Debug, Clone)]
pub struct Bars {
    pub label: String,
    pub colour: RGBColor,
    pub values: Vec<Option<f64>>,
}

/// Draws one row per category (top to bottom, named on the left) with one
/// bar per group, each bar labelled with its value, on a logarithmic x
/// axis; into an SVG file at `path`.
pub fn bars(path: &Path, figure: &Figure<'_>, categories: &[&str], groups: &[Bars]) -> Result<()> {
    let draw =
        |e: &dyn std::fmt::Debug| anyhow::anyhow!("failed to draw {}: {e:?}", path.display());
    let values = || {
        groups
            .iter()
            .flat_map(|g| g.values.iter().flatten().copied())
    };
    let x_min = values().fold(f64::MAX, f64::min).max(0.5);
    let x_max = values().fold(1.0, f64::max);
    let x_range = (x_min / 2.0)..(x_max * 4.0);
    let rows = categories.len() as f64;
    let root = SVGBackend::new(path, figure.size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(figure.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(170)
        // Row 0 at the top: the y axis runs from the last row up to the first.
        .build_cartesian_2d(x_range.clone().log_scale(), (rows - 0.5)..-0.5)
        .map_err(|e| draw(&e))?;
    let names: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
    chart
        .configure_mesh()
        .x_desc(figure.x_desc)
        .x_labels(figure.x_labels)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_labels(categories.len() + 1)
        .y_label_formatter(&|y| {
            let row = y.round();
            if (y - row).abs() < 1e-6 && row >= 0.0 {
                names.get(row as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(|e| draw(&e))?;
    let height = 0.8 / groups.len().max(1) as f64;
    for (g, group) in groups.iter().enumerate() {
        let colour = group.colour;
        let bars = group.values.iter().enumerate().filter_map(|(row, value)| {
            let value = (*value)?;
            let top = row as f64 - 0.4 + g as f64 * height;
            Some((value, top, top + height))
        });
        chart
            .draw_series(bars.clone().map(|(value, top, bottom)| {
                Rectangle::new([(x_range.start, top), (value, bottom)], colour.filled())
            }))
            .map_err(|e| draw(&e))?
            .label(group.label.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], colour.filled()));
        chart
            .draw_series(bars.map(|(value, top, bottom)| {
                Text::new(
                    format!(" {value:.0}"),
                    (value, (top + bottom) / 2.0),
                    TextStyle::from(("sans-serif", 12).into_font()).pos(
                        plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Left,
                            plotters::style::text_anchor::VPos::Center,
                        ),
                    ),
                )
            }))
            .map_err(|e| draw(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| draw(&e))?;
    root.present().map_err(|e| draw(&e))?;
    Ok(())
}
