//! The one SQLite migration scheme of AutoMix, shared by the history, the budget ledger and the
//! document library: see [`migrate`].

pub mod migrate;
