//! Rendering an [`EvalReport`]: a markdown summary and an SVG of the cost-performance curves.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::curves::operating_curve;
use crate::evaluate::{
    EvalError, EvalReport, ReplayResult, RouterSummary, TableReport, AUTOMIX_P, AUTOMIX_P_BEFORE_ANSWERING, AUTOMIX_P_SHIPPED, AUTOMIX_T, LEARNED_SCORER,
};

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
        if self.tables.len() > 1 {
            summary_markdown(&self.tables, &mut out);
        }
        for table in &self.tables {
            table_markdown(table, &mut out);
        }
        if !self.replay.is_empty() {
            replay_markdown(&self.replay, &mut out);
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

/// One line per table with the figures the routing targets are stated in, and the target counts.
fn summary_markdown(tables: &[TableReport], out: &mut String) {
    let delta = |table: &TableReport, router: &str| table.routers.iter().find(|r| r.router == router).map(|r| r.mean);
    let cell = |value: Option<f64>| value.map_or_else(|| "–".to_owned(), |v| format!("{v:+.1}"));
    let _ = writeln!(
        out,
        "| set | rows | local right | remote score | ΔIBC AutoMix-P | on the shipped calibration | deciding before answering | AutoMix-T | learned scorer | remote calls saved (AutoMix-P) | always-remote per 1,000 questions | posterior AUROC | ECE |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let (mut at_least_zero, mut above_both, mut with_routing) = (0, 0, 0);
    for table in tables {
        let p = delta(table, AUTOMIX_P);
        let (t, scorer) = (delta(table, AUTOMIX_T), delta(table, LEARNED_SCORER));
        if let Some(p) = p {
            with_routing += 1;
            at_least_zero += usize::from(p >= 0.0);
            above_both += usize::from(p > t.unwrap_or(f64::NEG_INFINITY) && p > scorer.unwrap_or(f64::NEG_INFINITY));
        }
        let saved = table
            .at_remote_quality
            .iter()
            .find(|m| m.calls_saved.router == AUTOMIX_P)
            .map_or_else(|| "–".to_owned(), |m| format!("{:.0}%", m.calls_saved.mean * 100.0));
        let summary = |s: &Option<RouterSummary>| s.as_ref().map_or_else(|| "–".to_owned(), |s| format!("{:.3}", s.mean));
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {} | {} | {} | {} | {} | {} | {saved} | {} | {} | {} |",
            table.table,
            table.usable_rows,
            table.slm_accuracy,
            if table.remote_answers { format!("{:.3}", table.llm_performance) } else { "–".to_owned() },
            cell(p),
            cell(delta(table, AUTOMIX_P_SHIPPED)),
            cell(delta(table, AUTOMIX_P_BEFORE_ANSWERING)),
            cell(t),
            cell(scorer),
            table.remote_cost_per_call.as_ref().map_or_else(|| "–".to_owned(), |(cost, currency)| format!("{:.3} {currency}", cost * 1000.0)),
            summary(&table.combined_auroc),
            summary(&table.combined_ece),
        );
    }
    let _ = writeln!(
        out,
        "\nAutoMix-P: ΔIBC ≥ 0 on {at_least_zero} of {with_routing} sets with remote answers; above both AutoMix-T and the learned scorer on {above_both}.\n"
    );
}

fn replay_markdown(results: &[ReplayResult], out: &mut String) {
    let _ = writeln!(
        out,
        "### Learning as it goes (replayed streams)\n\n| set | calibration's prior (other sets) | set's rate | learned prior at the end | ΔIBC, fixed calibration | ΔIBC, learning | agreement judges the local answer right |\n|---|---|---|---|---|---|---|"
    );
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {:.3} | {:.3} | {:.3} ± {:.3} | {:+.1} ± {:.1} | {:+.1} ± {:.1} | {:.0}% |",
            r.table,
            r.calibration_accuracy,
            r.set_accuracy,
            r.learned_accuracy.mean,
            r.learned_accuracy.std,
            r.fixed.mean,
            r.fixed.std,
            r.learning.mean,
            r.learning.std,
            r.agreement_judges_right * 100.0
        );
    }
    out.push('\n');
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
        let _ = writeln!(
            out,
            "| router | ΔIBC % (test, mean ± std) | remote calls saved at the remote model's quality | its score − always-remote's | local wait saved per remote call | seeds |\n|---|---|---|---|---|---|"
        );
        for router in &table.routers {
            let matched = table.at_remote_quality.iter().find(|m| m.calls_saved.router == router.router);
            let (saved, gap, wait) = matched.map_or_else(
                || ("–".to_owned(), "–".to_owned(), "–".to_owned()),
                |m| {
                    (
                        format!("{:.0}% ± {:.0}", m.calls_saved.mean * 100.0, m.calls_saved.std * 100.0),
                        format!("{:+.3} ± {:.3}", m.performance_gap.mean, m.performance_gap.std),
                        m.wait_saved_ms.as_ref().map_or_else(|| "–".to_owned(), |w| format!("{:.0} ± {:.0} ms", w.mean + 0.0, w.std + 0.0)),
                    )
                },
            );
            let _ = writeln!(out, "| {} | {:.1} ± {:.1} | {saved} | {gap} | {wait} | {} |", router.router, router.mean, router.std, router.per_seed.len());
        }
        let _ = writeln!(
            out,
            "\nRemote calls saved: the setting that escalates least while scoring within one point of always-remote on the training split, measured on the test split.\n"
        );
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
