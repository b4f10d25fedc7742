//! Hostile and careless input (issue 7): one test per class of defect an
//! adversarial pass found, each building the input and checking what a
//! user needs: a clear answer, no panic, no bricked vault, no lost file.

mod cli;
mod export;
mod media;
mod memory;
mod records;
mod vault_state;
mod zips;
