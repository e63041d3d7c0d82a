//! Reserves from a ledger and then waits to be killed; the crash-recovery test runs it and
//! kills it with SIGKILL mid-"call" to check the next open releases the orphaned reservation.

use std::io::Write;
use std::path::PathBuf;

use automix_budget::{Cost, Ledger};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(nanos)) = (args.next(), args.next()) else {
        return Err("usage: automix-budget-crash-probe <ledger.sqlite> <reserve-nanos>".into());
    };
    let ledger = Ledger::open(&PathBuf::from(path))?;
    let reservation = ledger.reserve(Cost::from_nanos(nanos.parse()?), "crash probe")?;
    println!("reserved {}", reservation.id());
    std::io::stdout().flush()?;
    // Stand in for a slow remote call; bounded so a test that forgets to kill it still ends.
    std::thread::sleep(std::time::Duration::from_secs(120));
    reservation.release()?;
    Ok(())
}
