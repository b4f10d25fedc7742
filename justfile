# dmvault's tasks. `just` lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]
export RUST_BACKTRACE := "1"

# list the recipes
default:
    @just --list

# the main job on the bundled archives: inspect, import into a new vault, list, verify, export
demo:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release --quiet
    d=./target/release/dmvault
    work=target/demo
    rm -rf "$work" && mkdir -p "$work"
    echo "== 1. inspect: synthetic archives of every generation (2018-2026), a yearly series, damaged media"
    $d inspect fixtures/archives/*.zip
    echo
    echo "== 2. init: a new vault, with a new identity file"
    $d init --vault "$work/vault" -i "$work/identity.txt"
    export DMVAULT_VAULT="$work/vault" DMVAULT_IDENTITY="$work/identity.txt" XDG_STATE_HOME="$work/state"
    echo
    echo "== 3. import every archive (merged by message id, each file stored once, checked with FFmpeg)"
    $d import fixtures/archives/*.zip
    echo
    echo "== 4. import them again: nothing new"
    $d import fixtures/archives/series-*.zip
    echo
    echo "== 5. stats, and the videos"
    $d stats
    $d ls --kind video
    echo
    echo "== 6. verify: catalog, objects, contents, and a full decode of every video"
    $d verify --read-data --decode
    echo
    echo "== 7. people: names the archives' tweet and account files give, and yours"
    $d people
    printf 'user_id,handle,display_name,note\n30974,corner_cafe,Corner Cafe,sends menus\n' > "$work/names.csv"
    $d people import "$work/names.csv"
    echo
    echo "== 8. search the messages, and read a conversation"
    $d search '"the blue"' --limit 3
    $d show --no-pager "weekend plans & more"
    echo
    echo "== 9. export the yearly series' media to $work/export"
    $d export --archive series-2023.zip "$work/export"
    find "$work/export" -type f | sort | head -20
    echo
    echo "== 10. the viewer's pages as a static site: open $work/site/index.html in a browser (or run \`dmvault view\`)"
    $d export --html "$work/site"
    echo
    echo "== 11. a write-only key for a machine nobody watches: it imports and cannot read; the vault's key merges what it sent"
    $d key add --write-only "$work/nas.key"
    XDG_CACHE_HOME="$work/nas-cache" $d import -i "$work/nas.key" fixtures/archives/g5-2026.zip
    XDG_CACHE_HOME="$work/nas-cache" $d ls -i "$work/nas.key" || echo "(refused: the key is write-only)"
    $d stats
    echo
    echo "== 12. a deletion request: forget a conversation for good (what goes first, then done; the vault verifies)"
    $d forget --conversation 9123456-1062514387293179904 --dry-run
    $d forget --conversation 9123456-1062514387293179904 --yes
    $d forget --list
    $d verify

# run the whole test suite (unit, property, integration, CLI)
test:
    cargo test --all-targets --quiet
    cargo test --doc --quiet

alias t := test

# the S3 vault on a real distributed store: a 3-node Garage cluster on 127.0.0.1, one node stopped mid-test (installs garage first if missing: cargo install, once, 10-20 minutes)
test-distributed:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! [ -x "$HOME/.cargo/bin/garage" ] && ! command -v garage >/dev/null 2>&1; then
      echo "test-distributed: installing garage (cargo install garage --locked; once, 10-20 minutes)" >&2
      cargo install garage --locked --quiet
    fi
    cargo test --test integration distributed -- --ignored

# formatting and lints, warnings denied
check:
    cargo fmt --all -- --check
    cargo clippy --all-targets --all-features -- -D warnings

# what CI runs (`.ci/run`): format, lints, the library alone and the CLI without FFmpeg, API docs, the fixture cross-check, the whole test suite
ci: check
    cargo build --no-default-features --quiet
    cargo clippy --no-default-features --features cli --quiet -- -D warnings
    cargo build --no-default-features --features cli --quiet
    RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps --quiet
    python3 fixtures/check.py
    cargo test --all-targets --quiet

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

# regenerate the synthetic fixture archives (needs python3 and ffmpeg), then cross-check them
fixtures:
    python3 fixtures/generate.py
    ./fixtures/hostile.sh
    python3 fixtures/check.py

# build the API documentation
doc:
    cargo doc --no-deps
