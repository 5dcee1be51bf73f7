#!/usr/bin/env bash
# Installs everything ticketpulse needs on a Debian 12 machine; quiet and quick when done already,
# and a slow step says what it does and how long it takes, with a dot every 5 s while it runs.
#  - Debian packages: redis-server, prometheus (+ promtool), prometheus-alertmanager
#  - .venv with the package and its dev tools (redone when pyproject.toml changes)
#  - the domain's hot modules compiled with mypyc into build/native/ (redone when they change)
#  - the Kafka jars pinned in deploy/kafka/pom.xml, in ${XDG_CACHE_HOME:-~/.cache}/ticketpulse
# Needs python3 (3.11+), Java 17 and Maven on PATH; uses sudo for apt only when not root.
#
#     scripts/setup.sh          everything above
#     scripts/setup.sh venv     only the .venv (make check: no apt, no Maven, no compiler)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
# A slow step, run only when there is work to do: says what it does and about how long it
# takes, prints a dot every 5 s while it runs and then how long it took, all on one line.
announce() {
    printf 'setup: %s ' "$1"
    STARTED=$SECONDS
    # sleep's output goes nowhere, so a sleep outliving the loop holds no pipe of ours open
    (while sleep 5 >/dev/null 2>&1; do printf '.'; done) &
    BEAT=$!
    trap 'kill "$BEAT" 2>/dev/null' EXIT
}
finished() {
    kill "$BEAT" 2>/dev/null || true
    wait "$BEAT" 2>/dev/null || true
    trap - EXIT
    printf ' %d s\n' $((SECONDS - STARTED))
}
# announce, then a noisy tool with its output in a temp file, shown only when it fails.
slowly() {
    announce "$1"
    shift
    local out rc=0
    out="$(mktemp)"
    "$@" >"$out" 2>&1 || rc=$?
    finished
    if ((rc)); then cat "$out" >&2; rm -f "$out"; die "failed ($rc): $*"; fi
    rm -f "$out"
}

# --- Debian packages ---------------------------------------------------------------------------
debian_packages() {
    APT_PACKAGES=(redis-server prometheus prometheus-alertmanager)
    missing_pkgs=()
    for pkg in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing_pkgs+=("$pkg")
        fi
    done
    if ((${#missing_pkgs[@]})); then
        SUDO=()
        if [[ $EUID -ne 0 ]]; then
            command -v sudo >/dev/null || die "not root and no sudo: install ${missing_pkgs[*]} as root"
            SUDO=(sudo)
        fi
        slowly "updating the package lists (apt-get, under a minute)" \
            "${SUDO[@]}" apt-get update -qq
        # Recommends would add node-exporter, which the stack does not use. The stack runs its own
        # processes on its own ports, never the packages' system services.
        slowly "installing ${missing_pkgs[*]} (apt-get, about 1 min)" \
            "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}"
    fi
    for bin in redis-server prometheus promtool prometheus-alertmanager; do
        command -v "$bin" >/dev/null || die "$bin is not on PATH after installing its package"
    done
}

# --- Python virtualenv -------------------------------------------------------------------------
python_venv() {
    PYTHON="${PYTHON:-python3}"
    VENV="${VENV:-$ROOT/.venv}"
    STAMP="$VENV/.ticketpulse-setup"
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
        "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || die "$PYTHON is older than 3.11"
        if [[ ! -x "$VENV/bin/python" ]]; then
            log "creating $VENV"
            "$PYTHON" -m venv "$VENV"
        fi
        slowly "installing ticketpulse and dev tools into $VENV (pip, 20 s to 2 min)" \
            "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
        echo "$want" >"$STAMP"
    fi
}

# --- The domain compiled with mypyc (streams/native.py) -----------------------------------------
# Quick when a build of the current sources exists. Without one the domain runs as plain Python
# (same results, slower: bench/bench_native.py), so a machine without a C compiler still works.
native_build() {
    "$VENV/bin/python" scripts/build_native.py --check 2>/dev/null && return
    native_log="$(mktemp)"
    announce "compiling the domain's hot modules with mypyc (about 1 min)"
    if "$VENV/bin/python" scripts/build_native.py >"$native_log" 2>&1; then
        finished
        sed -n 's/^build_native: /setup: /p' "$native_log"
    else
        finished
        cat "$native_log" >&2
        log "warning: the mypyc build failed (above); the domain runs as plain Python"
    fi
    rm -f "$native_log"
}

# --- Kafka jars --------------------------------------------------------------------------------
kafka_jars() {
    command -v java >/dev/null || die "java is missing: apt-get install -y openjdk-17-jre-headless"
    KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' deploy/kafka/pom.xml)"
    [[ -n "$KAFKA_VERSION" ]] || die "deploy/kafka/pom.xml: no <kafka.version>"
    KAFKA_HOME="${XDG_CACHE_HOME:-$HOME/.cache}/ticketpulse/kafka-$KAFKA_VERSION"
    if [[ ! -f "$KAFKA_HOME/fetched" ]]; then
        command -v mvn >/dev/null || die "mvn is missing: apt-get install -y maven"
        rm -rf "$KAFKA_HOME/lib"
        slowly "fetching Kafka $KAFKA_VERSION jars into $KAFKA_HOME/lib (Maven Central, about 1 min)" \
            mvn -q -B -f deploy/kafka/pom.xml validate -Dkafka.lib.dir="$KAFKA_HOME/lib"
        # The stamp marks a complete copy: an interrupted fetch is redone, never half used.
        date -u +%FT%TZ >"$KAFKA_HOME/fetched"
    fi
}

case "${1:-all}" in
    all) debian_packages; python_venv; native_build; kafka_jars ;;
    venv) python_venv ;;
    *) die "usage: scripts/setup.sh [venv]" ;;
esac
