//! What the command line logs to stderr: warnings by default, more of the engine's own log with
//! each `-v` (info, debug, trace), or exactly what `AUTOMIX_LOG` asks for (`EnvFilter` syntax,
//! e.g. `automix=debug,automix_llm=trace`), as the desktop app reads it too.

use tracing_subscriber::EnvFilter;

/// The environment variable that overrides `-v` (the app reads the same one).
pub const LOG_ENV: &str = "AUTOMIX_LOG";

/// `-v`, for every command.
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct Verbosity {
    /// Log more to stderr: -v the engine's steps (each question's retrieve, answer, verify, route
    /// and escalation, with the decision and its reason), -vv debug, -vvv trace. Warnings are
    /// always shown; AUTOMIX_LOG (e.g. `automix=debug`) overrides this.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

impl Verbosity {
    /// The filter `-v` asks for: warnings from everything, and the automix crates' own log
    /// (their targets all start with `automix`) at the chosen level.
    pub fn directives(self) -> &'static str {
        match self.verbose {
            0 => "warn",
            1 => "warn,automix=info",
            2 => "warn,automix=debug",
            _ => "warn,automix=trace",
        }
    }

    /// The filter to log with: `AUTOMIX_LOG` where it is set and valid, else `-v`'s; and the
    /// warning to log when `AUTOMIX_LOG` was set but could not be read.
    pub fn filter(self, env: Option<&str>) -> (EnvFilter, Option<String>) {
        let fallback = || EnvFilter::new(self.directives());
        match env.map(str::trim).filter(|value| !value.is_empty()) {
            None => (fallback(), None),
            Some(value) => match EnvFilter::try_new(value) {
                Ok(filter) => (filter, None),
                Err(error) => (fallback(), Some(format!("{LOG_ENV}={value:?} is not a log filter ({error}); logging as -v asks ({})", self.directives()))),
            },
        }
    }

    /// Sets the process's logger: stderr, so that stdout stays the command's output.
    pub fn init(self) {
        let (filter, problem) = self.filter(std::env::var(LOG_ENV).ok().as_deref());
        let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
        // Plain warnings need no clock; a trace of the steps does.
        let installed = if self.verbose == 0 { builder.without_time().try_init() } else { builder.try_init() };
        if let Err(error) = installed {
            eprintln!("note: no log output ({error})");
        }
        if let Some(problem) = problem {
            tracing::warn!("{problem}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_v_logs_more_of_automix_and_a_valid_automix_log_wins() {
        let levels: Vec<_> = (0..5).map(|verbose| Verbosity { verbose }.directives()).collect();
        assert_eq!(levels, ["warn", "warn,automix=info", "warn,automix=debug", "warn,automix=trace", "warn,automix=trace"]);
        let (filter, problem) = Verbosity { verbose: 1 }.filter(Some("automix=debug"));
        assert_eq!((filter.to_string(), problem), ("automix=debug".to_string(), None));
        let (filter, problem) = Verbosity { verbose: 2 }.filter(Some("  "));
        assert_eq!((filter.to_string(), problem), (EnvFilter::new("warn,automix=debug").to_string(), None));
        let (filter, problem) = Verbosity { verbose: 0 }.filter(Some("automix=loud"));
        assert_eq!(filter.to_string(), "warn");
        assert!(problem.is_some_and(|p| p.contains("AUTOMIX_LOG=\"automix=loud\" is not a log filter")));
    }
}
