#!/usr/bin/env bash
# Remote devices on loopback, measured: the same training run on this machine's flex device, on
# one `serve` process (a remote flex device), on two (data-parallel), and on two local workers
# (flex,flex), for the dense AE and the conv AE. Each server is pinned to its own core
# (taskset); the client is not pinned. Prints steady images/s, milliseconds per step, bytes
# sent over loopback per step (from /proc/net/dev, the whole run included), and where the cores
# went: the run's wall seconds and the CPU seconds of the trainer and of each server.
# The servers run this workspace's CPU kernels (shipped as custom operations, `ops::remote`), as
# the local device does; the `-burn-ops` rows run Burn's own operations instead, locally
# (AE_CPU_KERNELS=off) and on a server (AE_REMOTE_KERNELS=off on the trainer): the same
# arithmetic with and without the network, before the kernels reached the servers.
#
#   cargo build --release --features remote-server --example serve --example train_vanilla \
#       --example train_conv
#   B=target/release/examples bash examples/serve/remote_rows.sh
#   ROUNDS=3 EPOCHS=6 B=target/release/examples bash examples/serve/remote_rows.sh scaling
# The second prints the scaling rows only (two servers against one, the cores used locally),
# alternated ROUNDS times, at batch BATCH (default 512), on the first LIMIT_IMAGES training
# images (default 8000; two devices need two batches of them per step).
# On a machine with more cores, TRAINER_CPUS pins the trainer away from the servers' cores 0 and
# 1 (e.g. TRAINER_CPUS=2-15 on a 16-core host); on 2 cores it shares them, unpinned.
set -euo pipefail
# bash's `time` writes the locale's decimal separator; Python reads a point.
export LC_ALL=C
B=${B:-target/release/examples}
EPOCHS=${EPOCHS:-3}
TRAINER_CPUS=${TRAINER_CPUS:-}
tmp=$(mktemp -d)
# The servers' process ids, in a file: `start` runs in a subshell ($(start 0)).
trap 'kill $(cat "$tmp/pids" 2>/dev/null) 2>/dev/null; rm -rf "$tmp"' EXIT
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/token"
export AE_REMOTE_TOKEN AE_PROGRESS=plain
AE_REMOTE_TOKEN=$(cat "$tmp/token")

# Starts a server pinned to core $1 and prints its address.
start() {
  taskset -c "$1" "$B/serve" --port 0 --token-file "$tmp/token" > "$tmp/serve-$1.log" 2>&1 &
  echo $! >> "$tmp/pids"
  for _ in $(seq 300); do
    port=$(sed -n 's|.*ws://127.0.0.1:\([0-9]*\).*|\1|p' "$tmp/serve-$1.log" | head -1)
    [ -n "$port" ] && { echo "ws://127.0.0.1:$port"; return; }
    sleep 0.1
  done
  { echo "server on core $1 did not start in 30 s; it said:"; cat "$tmp/serve-$1.log"; } >&2
  exit 1
}
# Every byte sent over loopback is received over it: the receive counter counts each once.
lo_bytes() { awk '/^ *lo:/ { printf "%.0f\n", $2 }' /proc/net/dev; }

# CPU seconds a process has used so far (user + system).
cpu_s() { awk -v tck="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / tck }' "/proc/$1/stat"; }

# row NAME TRAINER BATCH DEVICE-FLAGS...: one run, one line of the table.
row() {
  local name=$1 trainer=$2 batch=$3; shift 3
  local before after out="$tmp/$name" a0 b0 a1 b1 times
  local server_a server_b
  # One assignment a line: `set -e` sees only the last substitution's status of a line.
  server_a=$(sed -n 1p "$tmp/pids")
  server_b=$(sed -n 2p "$tmp/pids")
  before=$(lo_bytes)
  a0=$(cpu_s "$server_a")
  b0=$(cpu_s "$server_b")
  # The trainer's wall, user and system seconds (bash's `time`, into $tmp/$name.time).
  { TIMEFORMAT='%R %U %S'; time env "${ENV[@]}" "${PIN[@]}" "$B/$trainer" --epochs "$EPOCHS" \
      --batch-size "$batch" "${LIMIT[@]}" "$@" --out "$out" > "$tmp/$name.log" 2>&1; } \
    2> "$tmp/$name.time" || { tail -5 "$tmp/$name.log"; return 1; }
  after=$(lo_bytes)
  a1=$(cpu_s "$server_a")
  b1=$(cpu_s "$server_b")
  times=$(cat "$tmp/$name.time")
  # shellcheck disable=SC2086 # $times is three numbers
  python3 - "$out/report.json" "$name" "$batch" "$((after - before))" "$a0" "$a1" "$b0" "$b1" \
    $times <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
name, batch, lo = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
a0, a1, b0, b1, wall, user, system = map(float, sys.argv[5:12])
images = report["images"][0] * report["epochs"]
steps = images // batch
steady = report["steady_images_per_second"]
print(f"| {name} | {steady:,.0f} | {1000 * batch / steady:.1f} | {lo / max(steps, 1) / 1e3:,.1f} | "
      f"{report['test']['mse']:.5f} | {wall:.1f} | {user + system:.1f} / {a1 - a0:.1f} / {b1 - b0:.1f} |")
EOF
}

# The trainer's own pin (the one-core rows pin it to core 0 instead).
TRAINER_PIN=()
[ -n "$TRAINER_CPUS" ] && TRAINER_PIN=(taskset -c "$TRAINER_CPUS")
PIN=("${TRAINER_PIN[@]}")
a=$(start 0)
b=$(start 1)
echo "| run | steady images/s | ms per step | KB over loopback per step | test MSE | wall s | CPU s: trainer / server A / B |"
echo "|---|---|---|---|---|---|---|"
ENV=(AE_CPU_KERNELS=on)
LIMIT=(--limit "${LIMIT_IMAGES:-8000}")
if [ "${1:-}" = scaling ]; then
  # Two servers against one on the conv AE at batch BATCH (512), next to the servers' cores used
  # by one local process (core 0 alone, then cores 0 and 1: what this machine's two cores give
  # this work at best), alternated ROUNDS times: single runs on a shared VM move by a fifth.
  n=${BATCH:-512}
  for round in $(seq "${ROUNDS:-3}"); do
    PIN=(taskset -c 0)
    row "conv-$n-local-core-0-r$round" train_conv "$n" --device flex
    PIN=(taskset -c 0,1)
    row "conv-$n-local-cores-0-1-r$round" train_conv "$n" --device flex
    PIN=("${TRAINER_PIN[@]}")
    row "conv-$n-one-server-r$round" train_conv "$n" --device "$a"
    row "conv-$n-two-servers-r$round" train_conv "$n" --devices "$a,$b"
  done
  exit 0
fi
row dense-local train_vanilla 256 --device flex
ENV=(AE_CPU_KERNELS=off)
row dense-local-burn-ops train_vanilla 256 --device flex
ENV=(AE_REMOTE_KERNELS=off)
row dense-one-server-burn-ops train_vanilla 256 --device "$a"
ENV=(AE_CPU_KERNELS=on)
row dense-one-server train_vanilla 256 --device "$a"
row dense-two-servers train_vanilla 256 --devices "$a,$b"
row dense-two-local train_vanilla 256 --devices flex,flex
LIMIT=(--limit 2048)
row conv-local train_conv 128 --device flex
# The trainer on core 0 alone: the same compute as one server's.
PIN=(taskset -c 0)
row conv-local-one-core train_conv 128 --device flex
PIN=("${TRAINER_PIN[@]}")
ENV=(AE_CPU_KERNELS=off)
row conv-local-burn-ops train_conv 128 --device flex
ENV=(AE_REMOTE_KERNELS=off)
row conv-one-server-burn-ops train_conv 128 --device "$a"
ENV=(AE_CPU_KERNELS=on)
row conv-one-server train_conv 128 --device "$a"
row conv-two-servers train_conv 128 --devices "$a,$b"
row conv-two-local train_conv 128 --devices flex,flex
# Larger steps: the same fixed costs per step (the weights and gradients between the servers)
# over four times the arithmetic.
LIMIT=(--limit "${LIMIT_IMAGES:-8000}")
PIN=(taskset -c 0)
row conv-512-local-one-core train_conv 512 --device flex
PIN=("${TRAINER_PIN[@]}")
row conv-512-one-server train_conv 512 --device "$a"
row conv-512-two-servers train_conv 512 --devices "$a,$b"
