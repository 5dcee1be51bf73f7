#!/usr/bin/env bash
# `make demo`: the local stack, a worker and simulated live traffic, then `ticketpulse top`.
#   scripts/demo.sh          start what is not running (a day of history first), watch the KPIs
#   scripts/demo.sh stop     stop the worker and the simulator (make stack-down stops the rest)
# Environment: DEMO_RATE (mean simulated events/s, default 0.5), DEMO_ONCE=1 (print one frame),
# DEMO_ACCOUNTS_RATE (CRM account events per ticket event, default 0.05; 0: tickets only, and
# `top` without its accounts part).
# The simulated desk works round the clock (simulate --round-the-clock): at 05:00 UTC as at noon,
# tickets arrive, agents reply and solve, and the 1h windows have data.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="$ROOT/.venv/bin"
STATE="${TICKETPULSE_STACK_DIR:-$ROOT/.stack}"
RUN="$STATE/demo"
LOGS="$STATE/logs"
RATE="${DEMO_RATE:-0.5}"
ACCOUNTS_RATE="${DEMO_ACCOUNTS_RATE:-0.05}"
export TICKETPULSE_KAFKA_BOOTSTRAP="${TICKETPULSE_KAFKA_BOOTSTRAP:-127.0.0.1:19092}"
export TICKETPULSE_REDIS_URL="${TICKETPULSE_REDIS_URL:-redis://127.0.0.1:6390/0}"
WEB_PORT="${TICKETPULSE_WEB_PORT:-6066}"
URL="http://127.0.0.1:$WEB_PORT"

alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

stop() {
    for name in simulator worker; do
        if alive "$name"; then
            kill "$(cat "$RUN/$name.pid")" 2>/dev/null || true
            echo "stopped $name"
        fi
        rm -f "$RUN/$name.pid"
    done
}

if [[ "${1:-}" == "stop" ]]; then
    stop
    exit 0
fi

mkdir -p "$RUN" "$LOGS"
"$BIN/ticketpulse" stack up --rule-file "$ROOT/deploy/prometheus/rules/ticketpulse.rules.yml"

if ! alive worker; then
    nohup "$BIN/ticketpulse" worker --web-port "$WEB_PORT" >"$LOGS/worker.log" 2>&1 &
    echo $! >"$RUN/worker.pid"
    echo "worker started (log: $LOGS/worker.log)"
fi
for _ in $(seq 1 120); do
    curl -fsS "$URL/readyz" >/dev/null 2>&1 && break
    alive worker || { tail -20 "$LOGS/worker.log"; echo "the worker exited" >&2; exit 1; }
    sleep 0.5
done
curl -fsS "$URL/readyz" >/dev/null || { echo "the worker is not ready: $LOGS/worker.log" >&2; exit 1; }

if ! alive simulator; then
    if [[ ! -f "$RUN/history.done" ]]; then
        yesterday="$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:00Z)"
        echo "producing a day of history from $yesterday ..."
        "$BIN/ticketpulse" simulate --kafka "$TICKETPULSE_KAFKA_BOOTSTRAP" --start "$yesterday" \
            --duration 1d --rate "$RATE" --accounts-rate "$ACCOUNTS_RATE" --seed 7 --round-the-clock \
            --quiet
        touch "$RUN/history.done"
    fi
    nohup "$BIN/ticketpulse" simulate --kafka "$TICKETPULSE_KAFKA_BOOTSTRAP" --start now \
        --realtime --rate "$RATE" --accounts-rate "$ACCOUNTS_RATE" --seed "$RANDOM" --round-the-clock \
        --quiet \
        >"$LOGS/simulator.log" 2>&1 &
    echo $! >"$RUN/simulator.pid"
    echo "live simulator started (log: $LOGS/simulator.log)"
fi

cat <<INFO

  KPIs (JSON)      $URL/kpis          e.g. $URL/kpis?window=1h&by=team
  tickets at risk  $URL/sla/at-risk
  accounts at risk $URL/accounts/at-risk   one account: $URL/accounts/<account_id>
  metrics          $URL/metrics
  Prometheus       http://127.0.0.1:9390
  Alertmanager     http://127.0.0.1:9393
  stop             make stack-down

INFO
TOP=("$BIN/ticketpulse" top --url "$URL")
# the accounts too (now, churn, NRR, customers at risk) when the simulator runs a CRM
if awk -v rate="$ACCOUNTS_RATE" 'BEGIN { exit !(rate + 0 > 0) }'; then
    TOP+=(--accounts)
fi
if [[ "${DEMO_ONCE:-}" == "1" || ! -t 1 ]]; then
    sleep 3
    exec "${TOP[@]}" --once
fi
exec "${TOP[@]}"
