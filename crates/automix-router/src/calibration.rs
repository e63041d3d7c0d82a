//! The calibration file `models/router/<model-id>.json`: per-signal histograms of a small model's
//! signals split by whether its answer was correct, fitted on labelled rows.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::binning::SignalBinning;
use crate::logistic::LogisticScorer;
use crate::signals::{LabelledSignals, Signal};

/// Version written into new calibration files; `load` refuses other versions.
pub const CALIBRATION_FORMAT_VERSION: u32 = 1;

/// Errors while fitting, reading or writing a calibration file.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// No labelled rows were given.
    #[error("no labelled rows to fit the calibration on; pass at least one routing table with rows")]
    NoRows,
    /// No signal to fit was selected.
    #[error("no signals selected for calibration; choose at least one of the signals the rows carry (see automix_router::Signal)")]
    NoSignals,
    /// Reading or writing the file failed.
    #[error("cannot access calibration file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid calibration JSON.
    #[error("calibration file {path} is not valid JSON for this version ({source}); refit it with `automix calibrate`")]
    Parse {
        /// The file.
        path: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// The file was written by an incompatible version.
    #[error("calibration file {path} has format version {found}, this build reads {expected}; refit it with `automix calibrate`")]
    Version {
        /// The file.
        path: String,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
}

/// Counts of one signal's bins among correct and incorrect answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalHistogram {
    /// How values map to bins (the last bin counts missing values).
    pub binning: SignalBinning,
    /// Rows per bin whose answer was incorrect.
    pub incorrect: Vec<f64>,
    /// Rows per bin whose answer was correct.
    pub correct: Vec<f64>,
}

impl SignalHistogram {
    /// Counts `rows` into the bins of `binning`.
    pub fn count(binning: SignalBinning, rows: &[LabelledSignals]) -> Self {
        let mut incorrect = vec![0.0; binning.bin_count()];
        let mut correct = vec![0.0; binning.bin_count()];
        for row in rows {
            let bin = binning.bin(&row.signals);
            if row.correct {
                correct[bin] += 1.0;
            } else {
                incorrect[bin] += 1.0;
            }
        }
        Self { binning, incorrect, correct }
    }
}

/// Prior accuracy of a remote (larger) model, refined as its answers are judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemotePrior {
    /// Model name as the settings or catalog spell it.
    pub model: String,
    /// Probability that its answer is correct.
    pub accuracy: f64,
}

/// Options for [`fit_calibration`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationOptions {
    /// Id of the small model the rows come from (e.g. `smollm2-135m-instruct`).
    pub slm_model: String,
    /// Signals to model; signals never present in the rows are dropped.
    pub signals: Vec<Signal>,
    /// Maximum number of value bins per continuous signal (quantile edges).
    pub bins_per_signal: usize,
    /// Remote model priors to store alongside, for the app's defaults.
    pub remote_priors: Vec<RemotePrior>,
    /// Cap on the joint observation space (product of all signals' bins); bins are halved until
    /// it fits, so the exact solve stays fast.
    pub max_joint_observations: usize,
    /// Observe one logistic combination of the signals instead of each signal on its own.
    /// Naive Bayes multiplies correlated signals as if independent, which makes the posterior
    /// overconfident; one combined score, binned, keeps P(correct | bin) what the rows show.
    #[serde(default)]
    pub combine: bool,
}

/// Value bins per signal (and of the combined score) unless set otherwise.
pub const DEFAULT_BINS_PER_SIGNAL: usize = 10;
/// L2 penalty of the combining logistic regression per training row, on standardised signals
/// (30 for the bundled calibration's 1,252 rows, 7.5 for a 300-item calibration set).
const COMBINER_L2_PER_ROW: f64 = 0.025;
/// Folds for the combined score's out-of-fold values.
const COMBINER_FOLDS: usize = 5;

impl Default for CalibrationOptions {
    fn default() -> Self {
        Self {
            slm_model: "smollm2-135m-instruct".to_owned(),
            signals: Signal::ALL.to_vec(),
            bins_per_signal: DEFAULT_BINS_PER_SIGNAL,
            remote_priors: Vec::new(),
            max_joint_observations: 1 << 16,
            combine: true,
        }
    }
}

/// P(signals | small-model correctness) as naive-Bayes histograms, plus the small model's accuracy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// See [`CALIBRATION_FORMAT_VERSION`].
    pub format_version: u32,
    /// The small model these statistics describe.
    pub slm_model: String,
    /// Labelled rows the counts come from.
    pub rows: usize,
    /// Rows whose answer was correct.
    pub correct_rows: usize,
    /// One histogram per modelled signal.
    pub histograms: Vec<SignalHistogram>,
    /// Default accuracies for remote models.
    pub remote_priors: Vec<RemotePrior>,
}

/// Fits per-signal histograms on labelled rows; bin edges are the rows' quantiles.
pub fn fit_calibration(rows: &[LabelledSignals], options: &CalibrationOptions) -> Result<Calibration, CalibrationError> {
    if rows.is_empty() {
        return Err(CalibrationError::NoRows);
    }
    if options.combine {
        return fit_combined(rows, options);
    }
    let mut bins = options.bins_per_signal;
    let histograms = loop {
        let histograms: Vec<SignalHistogram> = options
            .signals
            .iter()
            .filter_map(|&signal| {
                let values: Vec<f64> = rows.iter().filter_map(|r| signal.value(&r.signals)).collect();
                (!values.is_empty()).then(|| SignalHistogram::count(SignalBinning::from_quantiles(signal, &values, bins), rows))
            })
            .collect();
        let joint: usize = histograms.iter().map(|h| h.binning.bin_count()).fold(1, usize::saturating_mul);
        if joint <= options.max_joint_observations || bins <= 2 {
            break histograms;
        }
        bins /= 2;
    };
    if histograms.is_empty() {
        return Err(CalibrationError::NoSignals);
    }
    Ok(Calibration {
        format_version: CALIBRATION_FORMAT_VERSION,
        slm_model: options.slm_model.clone(),
        rows: rows.len(),
        correct_rows: rows.iter().filter(|r| r.correct).count(),
        histograms,
        remote_priors: options.remote_priors.clone(),
    })
}

/// One histogram of the rows' combined score. The counts come from out-of-fold scores (each row
/// scored by a combiner fitted without it), so they describe how the combiner does on answers it
/// has not seen; the stored combiner is then fitted on all rows.
fn fit_combined(rows: &[LabelledSignals], options: &CalibrationOptions) -> Result<Calibration, CalibrationError> {
    let features: Vec<Signal> =
        options.signals.iter().copied().filter(|&signal| signal != Signal::Combined && rows.iter().any(|row| signal.value(&row.signals).is_some())).collect();
    if features.is_empty() {
        return Err(CalibrationError::NoSignals);
    }
    let folds = COMBINER_FOLDS.min(rows.len());
    let mut held_out = vec![0.0; rows.len()];
    for fold in 0..folds {
        let training: Vec<LabelledSignals> = rows.iter().enumerate().filter(|(i, _)| i % folds != fold).map(|(_, row)| row.clone()).collect();
        let training = if training.is_empty() { rows } else { &training };
        let scorer = LogisticScorer::fit(training, &features, combiner_l2(training.len()));
        for (i, row) in rows.iter().enumerate().filter(|(i, _)| i % folds == fold) {
            held_out[i] = scorer.probability(&row.signals);
        }
    }
    let binning = SignalBinning::combined(LogisticScorer::fit(rows, &features, combiner_l2(rows.len())), &held_out, options.bins_per_signal);
    let mut incorrect = vec![0.0; binning.bin_count()];
    let mut correct = vec![0.0; binning.bin_count()];
    for (row, &score) in rows.iter().zip(&held_out) {
        let bin = binning.bin_of(Some(score));
        if row.correct {
            correct[bin] += 1.0
        } else {
            incorrect[bin] += 1.0
        }
    }
    Ok(Calibration {
        format_version: CALIBRATION_FORMAT_VERSION,
        slm_model: options.slm_model.clone(),
        rows: rows.len(),
        correct_rows: rows.iter().filter(|r| r.correct).count(),
        histograms: vec![SignalHistogram { binning, incorrect, correct }],
        remote_priors: options.remote_priors.clone(),
    })
}

fn combiner_l2(rows: usize) -> f64 {
    (COMBINER_L2_PER_ROW * rows as f64).max(1.0)
}

impl Calibration {
    /// Share of calibration rows the small model answered correctly.
    pub fn slm_accuracy(&self) -> f64 {
        self.correct_rows as f64 / self.rows.max(1) as f64
    }

    /// The stored prior accuracy of `model`, if any.
    pub fn remote_accuracy(&self, model: &str) -> Option<f64> {
        self.remote_priors.iter().find(|p| p.model == model).map(|p| p.accuracy)
    }

    /// Reads a calibration file.
    pub fn load(path: &Path) -> Result<Self, CalibrationError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CalibrationError::Io { path: shown.clone(), source })?;
        let calibration: Calibration = serde_json::from_str(&text).map_err(|source| CalibrationError::Parse { path: shown.clone(), source })?;
        if calibration.format_version != CALIBRATION_FORMAT_VERSION {
            return Err(CalibrationError::Version { path: shown, found: calibration.format_version, expected: CALIBRATION_FORMAT_VERSION });
        }
        Ok(calibration)
    }

    /// Writes the calibration as pretty JSON, creating parent folders.
    pub fn save(&self, path: &Path) -> Result<(), CalibrationError> {
        let shown = path.display().to_string();
        let io_error = |source| CalibrationError::Io { path: shown.clone(), source };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_error)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|source| CalibrationError::Parse { path: shown.clone(), source })?;
        std::fs::write(path, text + "\n").map_err(io_error)
    }
}
