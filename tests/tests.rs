//! The integration tests: one binary, one module per area (see
//! docs/testing.md). They run the real `dmvault` program on real ZIP files
//! and folders: the committed fixtures, the samples in ../shared, and
//! archives the tests build from them.

// Test inputs are built from small numbers; long scenarios read best whole.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines
)]

mod util;

mod cli_errors;
mod fixtures;
mod forget;
mod forgetting;
mod garage;
mod golden;
mod hostile;
mod index;
mod integrity;
mod people;
mod samples;
mod storage;
mod vault;
mod vault_safety;
mod view;
mod write_only;
