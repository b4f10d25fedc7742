//! What the unit tests share.

use proptest::test_runner::{Config, RngAlgorithm};

/// Property tests run `cases` cases in every `cargo test`: no regression
/// files are written into the repository, and the generator is XorShift
/// (ChaCha is slow in a debug build).
pub(crate) fn proptest_config(cases: u32) -> Config {
    Config {
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::with_cases(cases)
    }
}
