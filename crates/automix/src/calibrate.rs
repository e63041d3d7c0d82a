//! Calibrating the router for the chat model a user runs: the model answers a small calibration set
//! shipped with the app through the app's own pipeline (`collect`), and the router's histograms are
//! fitted on its rows. Resumable (the rows are kept as they come) and cancellable, so the desktop
//! app can run it in the background after a model download.

use std::path::{Path, PathBuf};

use automix_qa::{parse_items, QaItem};
use automix_remote::CancelFlag;
use automix_router::{fit_tables, Calibration, CalibrationOptions, RemotePrior, Smoothing};

use crate::assistant::{calibration_path, model_calibration, AskError, AssistantConfig, CalibrationOrigin, CALIBRATIONS_DIR};
use crate::collect::{collect_table, scratch_assistant, CollectProgress};
use crate::settings::Settings;

/// A few hundred questions with gold answers, from sets whose licences allow shipping them
/// (models/router/SOURCES.md): answerable and unanswerable SQuAD questions and BoolQ yes/no ones.
const CALIBRATION_SET: &str = include_str!("../../../models/router/calibration-set.jsonl");

/// The shipped calibration set.
pub fn calibration_set() -> Result<Vec<QaItem>, AskError> {
    parse_items(CALIBRATION_SET).map_err(|e| AskError::Router(format!("the bundled calibration set: {e}")))
}

/// Files of one model's calibration run under `$AUTOMIX_HOME/router/`.
pub struct CalibrationFiles {
    /// The rows answered so far (a routing table; a rerun resumes after them).
    pub rows: PathBuf,
    /// Scratch library and history of the run.
    pub work_dir: PathBuf,
    /// The fitted calibration the router loads.
    pub calibration: PathBuf,
    /// Present while a run is under way: one still there when no run is means the app was closed
    /// (or killed) mid-run, and the app resumes it.
    pub running_mark: PathBuf,
}

impl CalibrationFiles {
    pub fn new(home: &Path, model_id: &str) -> Self {
        let folder = home.join(CALIBRATIONS_DIR);
        Self {
            rows: folder.join(format!("{model_id}.rows.jsonl")),
            work_dir: folder.join(format!("{model_id}.work")),
            calibration: calibration_path(home, model_id),
            running_mark: folder.join(format!("{model_id}.running")),
        }
    }

    /// Items answered so far by runs that did not finish (a line each in `rows`).
    pub fn answered(&self) -> usize {
        std::fs::read_to_string(&self.rows).map(|text| text.lines().filter(|line| !line.trim().is_empty()).count()).unwrap_or(0)
    }

    /// Whether a run was under way when the app last stopped (closed, killed or crashed).
    pub fn interrupted(&self) -> bool {
        self.running_mark.exists()
    }
}

/// Where a chat model's router calibration stands on this machine.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CalibrationStatus {
    Calibrated {
        origin: CalibrationOrigin,
        rows: usize,
        local_accuracy: f64,
    },
    /// Neither fitted here nor bundled: the router rates the model like SmolLM2-135M and so
    /// escalates more than it needs to. `answered` of the calibration set's `total` items are
    /// kept from a run that stopped; the next run goes on from there.
    NotCalibrated {
        answered: usize,
        total: usize,
    },
}

pub fn calibration_status(home: &Path, model_id: &str) -> Result<CalibrationStatus, AskError> {
    Ok(match model_calibration(model_id, home)? {
        Some((calibration, origin)) => CalibrationStatus::Calibrated { origin, rows: calibration.rows, local_accuracy: calibration.slm_accuracy() },
        None => CalibrationStatus::NotCalibrated { answered: CalibrationFiles::new(home, model_id).answered(), total: calibration_set()?.len() },
    })
}

/// Answers `items` with chat model `model_id` through the app's pipeline and fits its calibration,
/// writing it where `Router::for_model` finds it. The remote model's prior accuracy is the one in
/// the settings. A cancelled run keeps its rows; the next run goes on from there.
pub fn calibrate_model(
    home: &Path,
    settings: &Settings,
    model_id: &str,
    items: &[QaItem],
    progress: &mut dyn FnMut(CollectProgress),
    cancel: &CancelFlag,
) -> Result<Calibration, AskError> {
    let files = CalibrationFiles::new(home, model_id);
    let folder = home.join(CALIBRATIONS_DIR);
    std::fs::create_dir_all(&folder).map_err(|source| AskError::Io { path: folder.clone(), source })?;
    std::fs::write(&files.running_mark, model_id).map_err(|source| AskError::Io { path: files.running_mark.clone(), source })?;
    let outcome = answer_and_fit(home, settings, model_id, items, &files, progress, cancel);
    // However the run ended, it is not under way any more: only a killed app leaves the mark.
    let _ = std::fs::remove_file(&files.running_mark);
    outcome
}

fn answer_and_fit(
    home: &Path,
    settings: &Settings,
    model_id: &str,
    items: &[QaItem],
    files: &CalibrationFiles,
    progress: &mut dyn FnMut(CollectProgress),
    cancel: &CancelFlag,
) -> Result<Calibration, AskError> {
    let assistant = scratch_assistant(home, &files.work_dir, AssistantConfig::from_settings(settings), model_id)?;
    let rows = collect_table(&assistant, items, &Default::default(), None, &files.rows, &files.work_dir, progress, cancel)?;
    let mut remote_priors = Vec::new();
    if settings.has_remote() {
        remote_priors.push(RemotePrior { model: settings.remote.model.clone(), accuracy: settings.remote.accuracy });
    }
    let options = CalibrationOptions { slm_model: model_id.to_string(), remote_priors, ..Default::default() };
    let calibration = fit_tables(&[rows], &options, true, &Smoothing::default()).map_err(|e| AskError::Router(e.to_string()))?;
    calibration.save(&files.calibration).map_err(|e| AskError::Router(e.to_string()))?;
    Ok(calibration)
}
