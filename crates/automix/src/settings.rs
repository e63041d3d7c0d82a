//! `$AUTOMIX_HOME/settings.toml`: the one settings file the CLI and the desktop app both read.
//! The budget is not here: it lives in the ledger, next to the money it guards.

use std::path::{Path, PathBuf};

use automix_budget::CostPreference;
use automix_llm::{DeviceChoice, DeviceError};
use automix_remote::ModelPrice;
use automix_types::ErrorCode;
use serde::{Deserialize, Serialize};

pub const SETTINGS_FILE_NAME: &str = "settings.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Catalog id of the chat model that answers locally.
    pub local_model: String,
    /// Tokens of document text (and earlier turns) given to the local model.
    pub context_tokens: usize,
    /// Keep every answer local, whatever the router thinks.
    pub never_escalate: bool,
    /// Whether an escalation the router decides waits for the user's approval: always (until the
    /// user chooses otherwise, when a remote model is first configured), when its worst case
    /// costs more than `ask_above`, or never.
    pub ask_before_sending: AskBeforeSending,
    /// With `ask_before_sending = "above"`: the worst-case cost (in the budget's currency) above
    /// which the user is asked.
    pub ask_above: f64,
    /// What is masked in every payload before it is sent.
    pub redaction: Redaction,
    /// 0 = best quality (escalate readily) … 1 = lowest cost (escalate rarely).
    pub quality_cost: f64,
    /// Where the local models run: auto (the GPU where the CUDA build finds one), cpu, cuda or cuda:N.
    /// On the wire as its text: `"auto"`, `"cpu"` or `"cuda:N"` (`"cuda"` is read as `"cuda:0"`).
    #[cfg_attr(feature = "typescript", ts(type = "string"))]
    pub device: DeviceChoice,
    pub remote: RemoteSettings,
    /// The local OpenAI-compatible API (`automix serve`, or the app while it runs).
    pub local_api: LocalApiSettings,
    /// The languages scans are read in by OCR, as Tesseract names them joined by `+`
    /// (`eng+rus`); empty for English plus the system's language where its pack is installed.
    pub ocr_languages: String,
}

/// The local OpenAI-compatible API. Its access token is a secret: it lives in the OS keychain
/// (`AssistantPaths::local_api_token_store`), not here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct LocalApiSettings {
    /// Whether the app serves the API while it runs (off until the user switches it on).
    pub enabled: bool,
    pub port: u16,
    /// Listen on every network interface instead of this computer only (loopback).
    pub allow_network: bool,
}

/// The local API's port unless the user picks another (Ollama has 11434; this is the next).
pub const DEFAULT_LOCAL_API_PORT: u16 = 11435;

impl Default for LocalApiSettings {
    fn default() -> Self {
        LocalApiSettings { enabled: false, port: DEFAULT_LOCAL_API_PORT, allow_network: false }
    }
}

/// What to mask before anything is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct Redaction {
    /// E-mail addresses, phone numbers, IBANs and payment card numbers.
    pub personal_data: bool,
    /// Words or phrases to mask wherever they appear (matched whole, ignoring case).
    pub words: Vec<String>,
}

impl Redaction {
    pub fn is_off(&self) -> bool {
        !self.personal_data && self.words.iter().all(|word| word.trim().is_empty())
    }
}

/// When an escalation the router decides waits for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AskBeforeSending {
    /// Every escalation waits for Send or Keep local.
    Always,
    /// Only one whose worst-case cost is above `ask_above`.
    Above,
    /// The router sends by itself (within the budget).
    Never,
}

impl AskBeforeSending {
    /// Whether an escalation whose worst case costs `worst_case` waits for the user.
    pub fn asks(self, worst_case: f64, above: f64) -> bool {
        match self {
            AskBeforeSending::Always => true,
            AskBeforeSending::Above => worst_case > above,
            AskBeforeSending::Never => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct RemoteSettings {
    /// OpenAI-compatible endpoint up to `/v1`; empty means no remote model.
    pub endpoint: String,
    pub model: String,
    /// Price override per million tokens; `None` takes the bundled price list.
    pub input_per_million: Option<f64>,
    pub output_per_million: Option<f64>,
    /// Prior probability that the remote model answers right.
    pub accuracy: f64,
    pub max_tokens: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            local_model: automix_models::Catalog::bundled().default_for(automix_models::ModelKind::Chat).id.clone(),
            context_tokens: 1024,
            never_escalate: false,
            ask_before_sending: AskBeforeSending::Always,
            ask_above: 0.01,
            redaction: Redaction::default(),
            quality_cost: 0.5,
            device: DeviceChoice::Auto,
            remote: RemoteSettings::default(),
            local_api: LocalApiSettings::default(),
            ocr_languages: String::new(),
        }
    }
}

impl Default for RemoteSettings {
    fn default() -> Self {
        RemoteSettings { endpoint: String::new(), model: String::new(), input_per_million: None, output_per_million: None, accuracy: 0.8, max_tokens: 512 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the settings file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the settings file {path} is not valid ({message}); fix or delete it to start from the defaults")]
    Parse { path: PathBuf, message: String },
    #[error("cannot save the settings to {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error("unknown setting {0:?}; known settings: {known}", known = KEYS.join(", "))]
    UnknownKey(String),
}

impl SettingsError {
    pub fn code(&self) -> ErrorCode {
        match self {
            SettingsError::Read { .. } | SettingsError::Write { .. } => ErrorCode::SettingsIo,
            SettingsError::Parse { .. } => ErrorCode::SettingsCorrupt,
            SettingsError::Invalid(_) | SettingsError::UnknownKey(_) => ErrorCode::SettingsInvalid,
        }
    }
}

/// The keys `automix settings set` accepts, as dotted TOML paths.
pub const KEYS: &[&str] = &[
    "local_model",
    "context_tokens",
    "ocr_languages",
    "never_escalate",
    "ask_before_sending",
    "ask_above",
    "redaction.personal_data",
    "redaction.words",
    "quality_cost",
    "device",
    "remote.endpoint",
    "remote.model",
    "remote.price",
    "remote.accuracy",
    "remote.max_tokens",
    "local_api.enabled",
    "local_api.port",
    "local_api.allow_network",
];

impl Settings {
    /// How documents are indexed under these settings.
    pub fn index_options(&self) -> automix_docs::IndexOptions {
        let languages = self.ocr_languages.trim();
        automix_docs::IndexOptions { ocr_languages: (!languages.is_empty()).then(|| languages.to_string()), ..Default::default() }
    }

    pub fn path(home: &Path) -> PathBuf {
        home.join(SETTINGS_FILE_NAME)
    }

    /// The saved settings, or the defaults when none were saved yet.
    pub fn load(home: &Path) -> Result<Settings, SettingsError> {
        let path = Self::path(home);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(source) => return Err(SettingsError::Read { path, source }),
        };
        let settings: Settings = toml::from_str(&text).map_err(|error| SettingsError::Parse { path: path.clone(), message: error.message().to_string() })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Validates, then writes to a temporary file and renames it over the old one, so a crash
    /// leaves either the old or the new settings, never half of them.
    pub fn save(&self, home: &Path) -> Result<(), SettingsError> {
        self.validate()?;
        let path = Self::path(home);
        let write_error = |source| SettingsError::Write { path: path.clone(), source };
        std::fs::create_dir_all(home).map_err(write_error)?;
        let text = toml::to_string_pretty(self).map_err(|error| SettingsError::Invalid(error.to_string()))?;
        let staging = home.join(format!(".{SETTINGS_FILE_NAME}.{}.tmp", std::process::id()));
        std::fs::write(&staging, text).map_err(write_error)?;
        std::fs::File::open(&staging).and_then(|file| file.sync_all()).map_err(write_error)?;
        std::fs::rename(&staging, &path).map_err(write_error)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        // Tesseract's codes: three letters, with a variant after an underscore (chi_sim).
        let is_code = |code: &str| {
            let (base, variant) = code.split_once('_').unwrap_or((code, "x"));
            base.len() == 3 && base.chars().all(|ch| ch.is_ascii_lowercase()) && !variant.is_empty() && variant.chars().all(|ch| ch.is_ascii_lowercase())
        };
        if let Some(bad) = self.ocr_languages.split('+').map(str::trim).filter(|code| !code.is_empty()).find(|code| !is_code(code)) {
            return Err(SettingsError::Invalid(format!(
                "scan languages: {bad:?} is not a Tesseract language code (eng, rus, deu, chi_sim…); join several with +"
            )));
        }
        let invalid = |message: String| Err(SettingsError::Invalid(message));
        if !(0.0..=1.0).contains(&self.quality_cost) {
            return invalid(format!("the quality↔cost preference must be between 0 and 1, not {}", self.quality_cost));
        }
        if !self.ask_above.is_finite() || self.ask_above < 0.0 {
            return invalid(format!("the amount above which to ask must be zero or more, not {}", self.ask_above));
        }
        if !(64..=32_768).contains(&self.context_tokens) {
            return invalid(format!("context tokens must be between 64 and 32768, not {}", self.context_tokens));
        }
        if !(0.0..=1.0).contains(&self.remote.accuracy) {
            return invalid(format!("the remote model's accuracy must be between 0 and 1, not {}", self.remote.accuracy));
        }
        if !(1..=32_768).contains(&self.remote.max_tokens) {
            return invalid(format!("max remote tokens must be between 1 and 32768, not {}", self.remote.max_tokens));
        }
        for price in [self.remote.input_per_million, self.remote.output_per_million].into_iter().flatten() {
            if !price.is_finite() || price < 0.0 {
                return invalid(format!("a price per million tokens must be zero or more, not {price}"));
            }
        }
        if self.remote.input_per_million.is_some() != self.remote.output_per_million.is_some() {
            return invalid("give both the input and the output price, or neither".into());
        }
        if self.local_api.port < 1024 {
            return invalid(format!("the local API's port must be 1024 or higher (lower ones need administrator rights), not {}", self.local_api.port));
        }
        if !self.remote.endpoint.trim().is_empty() && self.remote.model.trim().is_empty() {
            return invalid("a remote endpoint needs a model id too".into());
        }
        automix_models::Catalog::bundled()
            .get(&self.local_model)
            .map_err(|_| SettingsError::Invalid(format!("{:?} is not a model of the catalog", self.local_model)))?;
        Ok(())
    }

    /// Sets one key (see [`KEYS`]) from its text form. `remote.price` takes the input and the
    /// output price per million tokens together ("0.15 0.60"); empty clears them.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingsError> {
        // Changed on a copy: a refused value leaves the settings as they were.
        let mut changed = self.clone();
        let value = value.trim();
        fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, SettingsError> {
            value.parse().map_err(|_| SettingsError::Invalid(format!("{value:?} is not a valid value for {key}")))
        }
        match key {
            "local_model" => changed.local_model = value.to_string(),
            "context_tokens" => changed.context_tokens = parse(key, value)?,
            "ocr_languages" => changed.ocr_languages = value.to_string(),
            "never_escalate" => changed.never_escalate = parse(key, value)?,
            "ask_before_sending" => {
                changed.ask_before_sending = match value {
                    "always" => AskBeforeSending::Always,
                    "above" => AskBeforeSending::Above,
                    "never" => AskBeforeSending::Never,
                    _ => return Err(SettingsError::Invalid(format!("ask_before_sending is always, above or never, not {value:?}"))),
                }
            }
            "ask_above" => changed.ask_above = parse(key, value)?,
            "redaction.personal_data" => changed.redaction.personal_data = parse(key, value)?,
            // Comma-separated; empty clears the list.
            "redaction.words" => changed.redaction.words = value.split(',').map(str::trim).filter(|word| !word.is_empty()).map(String::from).collect(),
            "quality_cost" => changed.quality_cost = parse(key, value)?,
            "device" => changed.device = value.parse().map_err(|error: DeviceError| SettingsError::Invalid(error.to_string()))?,
            "remote.endpoint" => changed.remote.endpoint = value.to_string(),
            "remote.model" => changed.remote.model = value.to_string(),
            "remote.price" => {
                let prices: Vec<&str> = value.split_whitespace().collect();
                (changed.remote.input_per_million, changed.remote.output_per_million) = match prices.as_slice() {
                    [] => (None, None),
                    [input, output] => (Some(parse(key, input)?), Some(parse(key, output)?)),
                    _ => return Err(SettingsError::Invalid(format!("{key} takes two prices, input and output per million tokens, e.g. \"0.15 0.60\""))),
                };
            }
            "remote.accuracy" => changed.remote.accuracy = parse(key, value)?,
            "remote.max_tokens" => changed.remote.max_tokens = parse(key, value)?,
            "local_api.enabled" => changed.local_api.enabled = parse(key, value)?,
            "local_api.port" => changed.local_api.port = parse(key, value)?,
            "local_api.allow_network" => changed.local_api.allow_network = parse(key, value)?,
            _ => return Err(SettingsError::UnknownKey(key.to_string())),
        }
        changed.validate()?;
        *self = changed;
        Ok(())
    }

    /// Whether a remote model is configured at all.
    pub fn has_remote(&self) -> bool {
        !self.remote.endpoint.trim().is_empty() && !self.remote.model.trim().is_empty()
    }

    /// The user's price override, when both prices are given.
    pub fn price_override(&self) -> Option<ModelPrice> {
        match (self.remote.input_per_million, self.remote.output_per_million) {
            (Some(input_per_million), Some(output_per_million)) => Some(ModelPrice { input_per_million, output_per_million }),
            _ => None,
        }
    }

    /// The router's cost trade-off for the slider: λ (expected correctness per currency unit)
    /// runs from 1 at "best quality" through 10 in the middle to 100 at "lowest cost", and the
    /// budget's pacing may move it one decade either way.
    pub fn cost_preference(&self) -> CostPreference {
        let neutral_lambda = 10f64.powf(2.0 * self.quality_cost);
        CostPreference { neutral_lambda, min_lambda: neutral_lambda / 10.0, max_lambda: neutral_lambda * 100.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults_and_saved_settings_round_trip() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load(home.path()).unwrap(), Settings::default());
        let mut settings = Settings::default();
        settings.set("remote.endpoint", "http://127.0.0.1:9/v1").unwrap_err();
        settings.set("remote.model", "gpt-4o-mini").unwrap();
        settings.set("remote.endpoint", "http://127.0.0.1:9/v1").unwrap();
        settings.set("quality_cost", "0.25").unwrap();
        settings.save(home.path()).unwrap();
        assert_eq!(Settings::load(home.path()).unwrap(), settings);
        assert!(!home.path().read_dir().unwrap().any(|entry| entry.unwrap().file_name().to_string_lossy().ends_with(".tmp")));
    }

    #[test]
    fn bad_values_and_corrupt_files_are_refused_with_their_reason() {
        let mut settings = Settings::default();
        assert!(matches!(settings.set("quality_cost", "2"), Err(SettingsError::Invalid(_))));
        assert_eq!(settings, Settings::default(), "a refused value changes nothing");
        assert!(matches!(settings.set("colour", "red"), Err(SettingsError::UnknownKey(_))));
        assert!(settings.set("remote.price", "1.0").is_err(), "one price without the other");
        settings.set("remote.price", "0.15 0.60").unwrap();
        assert_eq!(settings.price_override(), Some(ModelPrice { input_per_million: 0.15, output_per_million: 0.60 }));
        settings.set("remote.price", "").unwrap();
        assert_eq!(settings.price_override(), None);
        let home = tempfile::tempdir().unwrap();
        std::fs::write(Settings::path(home.path()), "context_tokens = \"many\"").unwrap();
        let error = Settings::load(home.path()).unwrap_err();
        assert_eq!(error.code(), ErrorCode::SettingsCorrupt);
        assert!(error.to_string().contains("settings.toml"));
    }

    #[test]
    fn the_device_is_set_saved_and_refused_like_the_other_keys() {
        let home = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        assert_eq!(settings.device, DeviceChoice::Auto);
        settings.set("device", "cuda:1").unwrap();
        assert_eq!(settings.device, DeviceChoice::Cuda(1));
        settings.save(home.path()).unwrap();
        assert!(std::fs::read_to_string(Settings::path(home.path())).unwrap().contains("device = \"cuda:1\""));
        assert_eq!(Settings::load(home.path()).unwrap().device, DeviceChoice::Cuda(1));
        let error = settings.set("device", "gpu").unwrap_err();
        assert_eq!(error.code(), ErrorCode::SettingsInvalid);
        assert!(error.to_string().contains("auto, cpu, cuda or cuda:N"), "{error}");
        assert_eq!(settings.device, DeviceChoice::Cuda(1), "a refused value changes nothing");
        std::fs::write(Settings::path(home.path()), "device = \"tpu\"").unwrap();
        let error = Settings::load(home.path()).unwrap_err();
        assert_eq!(error.code(), ErrorCode::SettingsCorrupt);
        assert!(error.to_string().contains("auto, cpu, cuda or cuda:N"), "{error}");
        // Files written before the key existed still load, on the default device.
        std::fs::write(Settings::path(home.path()), "quality_cost = 0.25").unwrap();
        assert_eq!(Settings::load(home.path()).unwrap().device, DeviceChoice::Auto);
    }

    #[test]
    fn asking_before_sending_defaults_to_always_and_follows_the_amount() {
        let home = tempfile::tempdir().unwrap();
        // Files written before the key existed ask, like a new install, until the user chooses.
        std::fs::write(Settings::path(home.path()), "quality_cost = 0.25").unwrap();
        let mut settings = Settings::load(home.path()).unwrap();
        assert_eq!(settings.ask_before_sending, AskBeforeSending::Always);
        assert!(settings.ask_before_sending.asks(0.0, settings.ask_above));
        settings.set("ask_before_sending", "above").unwrap();
        settings.set("ask_above", "0.05").unwrap();
        assert!(!settings.ask_before_sending.asks(0.05, settings.ask_above) && settings.ask_before_sending.asks(0.051, settings.ask_above));
        assert_eq!(settings.set("ask_above", "-1").unwrap_err().code(), ErrorCode::SettingsInvalid);
        assert_eq!(settings.set("ask_before_sending", "sometimes").unwrap_err().code(), ErrorCode::SettingsInvalid);
        settings.set("ask_before_sending", "never").unwrap();
        assert!(!settings.ask_before_sending.asks(100.0, 0.0));
        settings.save(home.path()).unwrap();
        assert_eq!(Settings::load(home.path()).unwrap(), settings);
    }

    #[test]
    fn the_local_api_is_off_on_loopback_until_switched_on_and_refuses_a_privileged_port() {
        let home = tempfile::tempdir().unwrap();
        let mut settings = Settings::load(home.path()).unwrap();
        assert_eq!(settings.local_api, LocalApiSettings { enabled: false, port: DEFAULT_LOCAL_API_PORT, allow_network: false });
        settings.set("local_api.enabled", "true").unwrap();
        settings.set("local_api.port", "18080").unwrap();
        let refused = settings.set("local_api.port", "80").unwrap_err();
        assert!(refused.to_string().contains("1024"), "{refused}");
        assert!(settings.set("local_api.port", "70000").is_err(), "not a port");
        settings.save(home.path()).unwrap();
        let loaded = Settings::load(home.path()).unwrap();
        assert_eq!(loaded.local_api, LocalApiSettings { enabled: true, port: 18080, allow_network: false });
    }

    #[test]
    fn scan_languages_reach_the_indexer_and_a_bad_code_is_refused() {
        let mut settings = Settings::default();
        assert_eq!(settings.index_options().ocr_languages, None, "empty: English plus the system's language");
        settings.set("ocr_languages", "eng+rus").unwrap();
        assert_eq!(settings.index_options().ocr_languages.as_deref(), Some("eng+rus"));
        let error = settings.set("ocr_languages", "eng+russian").unwrap_err();
        assert!(error.to_string().contains("\"russian\" is not a Tesseract language code"), "{error}");
        assert_eq!(settings.ocr_languages, "eng+rus", "a refused value leaves the settings as they were");
    }

    #[test]
    fn the_slider_moves_lambda_monotonically_from_quality_to_cost() {
        let lambdas: Vec<f64> =
            [0.0, 0.5, 1.0].iter().map(|&quality_cost| Settings { quality_cost, ..Settings::default() }.cost_preference().neutral_lambda).collect();
        assert!((lambdas[0] - 1.0).abs() < 1e-9 && (lambdas[1] - 10.0).abs() < 1e-9 && (lambdas[2] - 100.0).abs() < 1e-9);
    }
}
