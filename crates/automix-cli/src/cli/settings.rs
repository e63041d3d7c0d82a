//! `automix settings`: the settings file the desktop app shares.

use anyhow::Result;
use automix::settings::{Settings, KEYS};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum SettingsCommand {
    /// Print the settings (defaults for what was never set).
    Show,
    /// Change one setting, e.g. `remote.model gpt-4o-mini`; an empty value clears a price.
    Set {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(KEYS))]
        key: String,
        value: String,
    },
}

pub fn run(command: SettingsCommand) -> Result<()> {
    let home = automix::models::automix_home();
    match command {
        SettingsCommand::Show => {
            println!("# {}", Settings::path(&home).display());
            print!("{}", toml::to_string_pretty(&Settings::load(&home)?)?);
        }
        SettingsCommand::Set { key, value } => {
            let mut settings = Settings::load(&home)?;
            settings.set(&key, &value)?;
            settings.save(&home)?;
            println!("{key} saved");
        }
    }
    Ok(())
}
