//! Rendering an [`EvalReport`]: a markdown summary and an SVG of the cost-performance curves.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::curves::operating_curve;
use crate::evaluate::{EvalError, EvalReport, TableReport};

fn fmt_option(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.3}"))
}

impl EvalReport {
    /// Markdown: per table, ΔIBC mean ± std over seeds per router, then AUROC/ECE per signal.
    pub fn to_markdown(&self) -> String {
        let o = &self.options;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Cost ratio {} (verifier {}), remote model `{}`, train fraction {}, {} seeds, ΔIBC averaged over {} cost regions.\n",
            o.cost_ratio, o.verify_cost, o.llm_model, o.train_fraction, o.seeds, o.regions
        );
        for table in &self.tables {
            table_markdown(table, &mut out);
        }
        out
    }

    /// Writes, per table, the first seed's test curves and the reliability diagram of AutoMix-P's
    /// posterior (pooled over the seeds' test splits) as an SVG.
    pub fn write_svg(&self, path: &Path) -> Result<(), EvalError> {
        let shown = path.display().to_string();
        let fail = |detail: String| EvalError::Output { path: shown.clone(), detail };
        let panels = self.tables.len().max(1);
        let root = SVGBackend::new(path, (1360, 460 * panels as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        for (table, row) in self.tables.iter().zip(root.split_evenly((panels, 1))) {
            let (curves, reliability) = row.split_horizontally(900);
            draw_panel(table, &curves, self.options.cost_ratio).map_err(|e| fail(e.to_string()))?;
            draw_reliability(table, &reliability).map_err(|e| fail(e.to_string()))?;
        }
        root.present().map_err(|e| fail(e.to_string()))
    }
}

fn table_markdown(table: &TableReport, out: &mut String) {
    let _ = writeln!(out, "### {}\n", table.table);
    if table.remote_answers {
        let _ = writeln!(
            out,
            "{} rows, {} with a `{}` answer; SLM score {:.3} (correct {:.1}%), LLM score {:.3}.\n",
            table.rows,
            table.usable_rows,
            table.llm_models.join("`, `"),
            table.slm_performance,
            table.slm_accuracy * 100.0,
            table.llm_performance
        );
    } else {
        let _ = writeln!(out, "{} rows; SLM score {:.3} (correct {:.1}%).\n", table.rows, table.slm_performance, table.slm_accuracy * 100.0);
    }
    if !table.remote_answers {
        let _ = writeln!(out, "No remote answers are recorded for this set: only the local answer's confidence is evaluated.\n");
    } else if table.routers.is_empty() {
        let _ = writeln!(out, "The LLM is not better than the SLM on this table: ΔIBC is undefined.\n");
    } else {
        let _ = writeln!(out, "| router | ΔIBC % (test, mean ± std) | seeds |\n|---|---|---|");
        for router in &table.routers {
            let _ = writeln!(out, "| {} | {:.1} ± {:.1} | {} |", router.router, router.mean, router.std, router.per_seed.len());
        }
        out.push('\n');
    }
    let selected: Vec<String> = table.selected_signals.iter().map(|(signal, seeds)| format!("{signal} ({seeds})")).collect();
    let _ = writeln!(out, "AutoMix-P signals (seeds that used them): {}.\n", selected.join(", "));
    if !table.budget.is_empty() {
        let _ = writeln!(out, "| AutoMix-P escalation target | expected on train fit | realized on test |\n|---|---|---|");
        for check in &table.budget {
            let _ = writeln!(out, "| {:.2} | {:.3} | {:.3} |", check.target, check.predicted, check.realized);
        }
        out.push('\n');
    }
    let [when_wrong, when_right] = table.llm_accuracy_given_slm;
    if table.remote_answers {
        let _ = writeln!(out, "LLM accuracy when the SLM is wrong {}, when it is right {}.", fmt_option(when_wrong), fmt_option(when_right));
    }
    let _ = writeln!(out, "Verification tokens per answer-call token: {}.\n", fmt_option(table.verify_token_share));
    let _ = writeln!(out, "| signal | rows | AUROC vs SLM correct | ECE |\n|---|---|---|---|");
    if let Some(combined) = &table.combined_auroc {
        let ece = table.combined_ece.as_ref().map_or_else(|| "–".to_owned(), |e| format!("{:.3} ± {:.3}", e.mean, e.std));
        let _ = writeln!(out, "| AutoMix-P posterior (test split) | – | {:.3} ± {:.3} | {ece} |", combined.mean, combined.std);
    }
    if let Some(given) = &table.given_calibration {
        let _ =
            writeln!(out, "| calibration `{}` as given (all rows) | {} | {} | {} |", given.model, table.rows, fmt_option(given.auroc), fmt_option(given.ece));
    }
    for signal in &table.signals {
        let _ = writeln!(out, "| {} | {} | {} | {} |", signal.signal, signal.rows, fmt_option(signal.auroc), fmt_option(signal.ece));
    }
    out.push('\n');
    if let Some(given) = &table.given_calibration {
        let _ =
            writeln!(out, "Calibration `{}` as given: mean confidence {:.3} against {:.3} right.\n", given.model, given.mean_confidence, table.slm_accuracy);
    }
}

type PanelResult = Result<(), Box<dyn std::error::Error>>;

fn draw_panel(table: &TableReport, area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, cost_ratio: f64) -> PanelResult {
    let anchors = &table.first_seed_anchors;
    let hulls: Vec<(String, Vec<(f64, f64)>)> = table
        .first_seed_curves
        .iter()
        .map(|c| (c.router.clone(), operating_curve(&c.points, anchors).iter().map(|p| (p.cost, p.performance)).collect()))
        .collect();
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for (_, points) in &hulls {
        for (_, p) in points {
            low = low.min(*p);
            high = high.max(*p);
        }
    }
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    let pad = ((high - low) * 0.05).max(0.01);
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{} (test split, seed 0)", table.table), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..cost_ratio + 4.0, (low - pad)..(high + pad))?;
    chart.configure_mesh().x_desc("cost per query (SLM calls)").y_desc("mean score").draw()?;
    for (index, (router, points)) in hulls.into_iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(router)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    Ok(())
}

/// Predicted P(local answer right) against the observed share, one dot per bin sized by its answers.
fn draw_reliability(table: &TableReport, area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> PanelResult {
    let ece = table.combined_ece.as_ref().map_or_else(|| "–".to_owned(), |e| format!("{:.3}", e.mean));
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{}: confidence vs right (ECE {ece})", table.table), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    chart.configure_mesh().x_desc("predicted P(local answer right)").y_desc("share right").draw()?;
    chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.4)))?;
    let points = table.reliability.points();
    let most = points.iter().map(|p| p.2).max().unwrap_or(1) as f64;
    chart.draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), BLUE.stroke_width(2)))?;
    chart.draw_series(points.iter().map(|&(x, y, n)| Circle::new((x, y), (3.0 + 9.0 * (n as f64 / most).sqrt()) as i32, BLUE.filled())))?;
    Ok(())
}
