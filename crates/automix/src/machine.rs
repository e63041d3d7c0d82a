//! This machine's memory and cores, and the chat model recommended for them on the first run.

use serde::Serialize;

const GIB: u64 = 1024 * 1024 * 1024;

/// What the recommendation reads of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct Machine {
    /// Total memory in bytes; `None` where it cannot be read.
    #[cfg_attr(feature = "typescript", ts(type = "number | null"))]
    pub ram_bytes: Option<u64>,
    /// Cores (hardware threads) this process may use.
    pub cores: usize,
}

impl Machine {
    /// Reads `/proc/meminfo` and the cores available; RAM is `None` where `/proc` is not there.
    pub fn detect() -> Machine {
        let ram_bytes = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| meminfo_total_bytes(&text));
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Machine { ram_bytes, cores }
    }
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
pub fn meminfo_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let mut words = line.split_whitespace().skip(1);
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value * 1024),
        Some(_) => None,
    }
}

/// The chat model recommended for a machine, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct Recommendation {
    pub model_id: String,
    pub machine: Machine,
    /// "recommended for 24 GiB RAM, 2 cores".
    pub reason: String,
}

pub const SMALL_MODEL: &str = "smollm2-135m-instruct";
pub const MEDIUM_MODEL: &str = "qwen2.5-coder-0.5b-instruct";
pub const LARGE_MODEL: &str = "qwen2.5-coder-1.5b-instruct";

/// The rule: under 6 GiB of RAM or under 4 cores (or RAM unknown), SmolLM2-135M; under 12 GiB,
/// Qwen2.5-Coder 0.5B; otherwise Qwen2.5-Coder 1.5B. Each is a catalog model tested here.
pub fn recommend_chat_model(machine: Machine) -> Recommendation {
    let cores = match machine.cores {
        1 => "1 core".to_string(),
        n => format!("{n} cores"),
    };
    let (model_id, reason) = match machine.ram_bytes {
        None => (SMALL_MODEL, format!("recommended as the smallest model: this machine's memory could not be read ({cores})")),
        Some(ram) => {
            // Rounded to the nearest GiB: a "16 GB" laptop reports a little less than 16 GiB.
            let gib = (ram as f64 / GIB as f64).round() as u64;
            let model = if ram < 6 * GIB || machine.cores < 4 {
                SMALL_MODEL
            } else if ram < 12 * GIB {
                MEDIUM_MODEL
            } else {
                LARGE_MODEL
            };
            (model, format!("recommended for {gib} GiB RAM, {cores}"))
        }
    };
    Recommendation { model_id: model_id.to_string(), machine, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(ram_gib: f64, cores: usize) -> Recommendation {
        recommend_chat_model(Machine { ram_bytes: Some((ram_gib * GIB as f64) as u64), cores })
    }

    #[test]
    fn the_rule_goes_by_ram_then_cores() {
        assert_eq!(pick(4.0, 8).model_id, SMALL_MODEL);
        assert_eq!(pick(5.9, 8).model_id, SMALL_MODEL);
        assert_eq!(pick(24.0, 2).model_id, SMALL_MODEL, "few cores: the small model, whatever the RAM");
        assert_eq!(pick(64.0, 3).model_id, SMALL_MODEL);
        assert_eq!(pick(6.0, 4).model_id, MEDIUM_MODEL);
        assert_eq!(pick(11.9, 8).model_id, MEDIUM_MODEL);
        assert_eq!(pick(12.0, 4).model_id, LARGE_MODEL);
        assert_eq!(pick(32.0, 16).model_id, LARGE_MODEL);
        assert_eq!(pick(24.0, 2).reason, "recommended for 24 GiB RAM, 2 cores");
        assert_eq!(pick(15.6, 8).reason, "recommended for 16 GiB RAM, 8 cores");
        assert_eq!(pick(8.0, 1).reason, "recommended for 8 GiB RAM, 1 core");
        let unknown = recommend_chat_model(Machine { ram_bytes: None, cores: 8 });
        assert_eq!(unknown.model_id, SMALL_MODEL);
        assert!(unknown.reason.contains("could not be read"), "{}", unknown.reason);
        // Every recommended model is a chat model of the catalog, tested here.
        let catalog = automix_models::Catalog::bundled();
        for id in [SMALL_MODEL, MEDIUM_MODEL, LARGE_MODEL] {
            let entry = catalog.get(id).unwrap();
            assert!(entry.kind == automix_models::ModelKind::Chat && entry.tested_here, "{id}");
        }
    }

    #[test]
    fn meminfo_is_read_in_bytes_and_a_strange_one_is_refused() {
        let meminfo = "MemTotal:       24568900 kB\nMemFree:        19000000 kB\n";
        assert_eq!(meminfo_total_bytes(meminfo), Some(24_568_900 * 1024));
        assert_eq!(meminfo_total_bytes("MemFree: 1 kB\n"), None);
        assert_eq!(meminfo_total_bytes("MemTotal: lots kB\n"), None);
        assert_eq!(meminfo_total_bytes("MemTotal: 5 MB\n"), None);
        let here = Machine::detect();
        assert!(here.cores >= 1);
        if std::path::Path::new("/proc/meminfo").exists() {
            assert!(here.ram_bytes.unwrap() > 0);
        }
    }
}
