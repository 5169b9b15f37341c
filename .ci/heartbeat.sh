# Sourced by the .ci scripts. `heartbeat "what it does (how long)" CMD ARGS...` prints the description, runs CMD
# with its output on the terminal, prints "... still running (N s)" every 15 s while it is quiet or not, and
# finally how long it took; it returns CMD's exit status.
heartbeat() {
  local what="$1"
  shift
  local start=$SECONDS
  echo "== $what"
  "$@" &
  local pid=$!
  ( while sleep 15; do echo "== ... still running: ${what%% (*} ($((SECONDS - start)) s)"; done ) &
  local ticker=$!
  local rc=0
  wait "$pid" || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  echo "== done in $((SECONDS - start)) s: ${what%% (*}$([ "$rc" -eq 0 ] || echo " (exit $rc)")"
  return "$rc"
}
