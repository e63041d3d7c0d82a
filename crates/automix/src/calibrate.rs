//! Calibrating the router for the chat model a user runs: the model answers a small calibration set
//! shipped with the app through the app's own pipeline (`collect`), and the router's histograms are
//! fitted on its rows. Resumable (the rows are kept as they come) and cancellable, so the desktop
//! app can run it in the background after a model download.

use std::path::{Path, PathBuf};

use automix_eval::fit_tables;
use automix_remote::CancelFlag;
use automix_router::{Calibration, CalibrationOptions, RemotePrior, Smoothing};

use crate::assistant::{calibration_path, AskError, AssistantConfig, CALIBRATIONS_DIR};
use crate::collect::{collect_table, scratch_assistant, CollectProgress};
use crate::datasets::{parse_items, QaItem};
use crate::settings::Settings;

/// A few hundred questions with gold answers, from sets whose licences allow shipping them
/// (models/router/SOURCES.md): answerable and unanswerable SQuAD questions and BoolQ yes/no ones.
const CALIBRATION_SET: &str = include_str!("../../../models/router/calibration-set.jsonl");

/// The shipped calibration set.
pub fn calibration_set() -> Result<Vec<QaItem>, AskError> {
    parse_items(CALIBRATION_SET).map_err(|e| AskError::Dataset(format!("the bundled calibration set: {e}")))
}

/// Files of one model's calibration run under `$AUTOMIX_HOME/router/`.
pub struct CalibrationFiles {
    /// The rows answered so far (a routing table; a rerun resumes after them).
    pub rows: PathBuf,
    /// Scratch library and history of the run.
    pub work_dir: PathBuf,
    /// The fitted calibration the router loads.
    pub calibration: PathBuf,
}

impl CalibrationFiles {
    pub fn new(home: &Path, model_id: &str) -> Self {
        let folder = home.join(CALIBRATIONS_DIR);
        Self {
            rows: folder.join(format!("{model_id}.rows.jsonl")),
            work_dir: folder.join(format!("{model_id}.work")),
            calibration: calibration_path(home, model_id),
        }
    }
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
    let assistant = scratch_assistant(home, &files.work_dir, AssistantConfig::from_settings(settings), model_id)?;
    let rows = collect_table(&assistant, items, &Default::default(), &files.rows, &files.work_dir, progress, cancel)?;
    let mut remote_priors = Vec::new();
    if settings.has_remote() {
        remote_priors.push(RemotePrior { model: settings.remote.model.clone(), accuracy: settings.remote.accuracy });
    }
    let options = CalibrationOptions { slm_model: model_id.to_string(), remote_priors, ..Default::default() };
    let calibration = fit_tables(&[rows], &options, true, &Smoothing::default()).map_err(|e| AskError::Router(e.to_string()))?;
    calibration.save(&files.calibration).map_err(|e| AskError::Router(e.to_string()))?;
    Ok(calibration)
}
