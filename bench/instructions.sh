#!/usr/bin/env bash
# The server's instructions per signed-in page load and per complete sign-in, counted by
# valgrind's callgrind: the same for the same binary whatever else the machine does, so two
# builds (or two machines) compare without the ±20 % drift of timed runs. Instructions are not
# time (the kernel's share is not counted, arithmetic runs faster per instruction than memory
# traffic): pair them with latchkey-bench's timed figures.
#
# Usage: bench/instructions.sh [SERVER_BIN] [PAGE]   (defaults: the release build, /profile)
# Each figure is the difference of a short and a long run, so start-up and warm-up cancel out.
set -euo pipefail

target_dir=${CARGO_TARGET_DIR:-target}
server=$(realpath "${1:-$target_dir/release/latchkey}")
page=${2:-/profile}
bench=${LATCHKEY_BENCH:-$target_dir/bench-program/latchkey-bench}
database=${DATABASE:-sqlite}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
[ -x "$bench" ] || { echo "build the benchmark first: cargo build --profile bench-program -p latchkey-bench" >&2; exit 1; }

# The benchmark stops its server with SIGKILL, which would lose callgrind's counts: it starts
# this wrapper instead, and the server (under valgrind) is stopped with SIGTERM afterwards.
cat > "$work/server" <<EOF
#!/bin/sh
valgrind --tool=callgrind --callgrind-out-file=$work/counts --dump-instr=no "$server" "\$@" 2>/dev/null &
echo \$! > $work/pid
wait
EOF
chmod +x "$work/server"

# Runs the benchmark with "$@"; prints what its line for $1 (a regex) shows in column $2, and
# the server's instruction total.
run() {
  local line=$1 column=$2
  shift 2
  local shown
  shown=$("$bench" --server-bin "$work/server" --database "$database" "$@" 2>/dev/null | awk -v l="$line" -v c="$column" '$0 ~ l {print $c}')
  local pid
  pid=$(cat "$work/pid")
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
  echo "${shown:-0} $(awk '/^(summary|totals):/ {print $2; exit}' "$work/counts")"
}

read -r _ short < <(run '^ +4 +30 ' 2 --concurrency 4 --sign-ins 30 --pages "")
read -r _ long < <(run '^ +4 +230 ' 2 --concurrency 4 --sign-ins 230 --pages "")
echo "server instructions per complete sign-in ($database): $(((long - short) / 200))"

read -r few short < <(run "^$page " 3 --concurrency 1 --sign-ins 10 --connections 4 --pages "$page" --seconds 2)
read -r many long < <(run "^$page " 3 --concurrency 1 --sign-ins 10 --connections 4 --pages "$page" --seconds 12)
echo "server instructions per GET $page ($database, signed in): $(((long - short) / (many - few)))"
