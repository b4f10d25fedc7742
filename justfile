# dmvault's tasks. `just` lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]
export RUST_BACKTRACE := "1"

# list the recipes
default:
    @just --list

# inspect the bundled sample archives (every generation, 2018-2026)
demo:
    cargo build --release --quiet
    @echo "== dmvault inspect: the synthetic archives in fixtures/archives (one per generation, and a yearly series)"
    ./target/release/dmvault inspect fixtures/archives/*.zip
    @echo
    @echo "== the same, as JSON lines"
    ./target/release/dmvault inspect --json fixtures/archives/g4-2024.zip fixtures/archives/g5-2026.zip

# run the whole test suite (unit, integration, CLI)
test:
    cargo test --all-targets --quiet

alias t := test

# formatting and lints, warnings denied
check:
    cargo fmt --all -- --check
    cargo clippy --all-targets --all-features -- -D warnings

# format the code
fmt:
    cargo fmt --all

# benchmarks against restic and borg, installed first if missing (release build; large files in tests/bench/work)
bench:
    #!/usr/bin/env bash
    set -euo pipefail
    missing=()
    for p in restic borgbackup; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      sudo=""
      [ "$(id -u)" -eq 0 ] || sudo="sudo"
      echo "bench: installing ${missing[*]}" >&2
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    cargo bench --bench bench

# regenerate the synthetic fixture archives (needs python3 and ffmpeg)
fixtures:
    python3 fixtures/generate.py

# build the API documentation
doc:
    cargo doc --no-deps
