#!/usr/bin/env bash
# The GPU rows of docs/gpu.md, in one go, on a machine with a GPU, PyTorch with
# CUDA, and two builds of backend_bench:
#   cargo build --release --features ndarray,wgpu --example backend_bench          -> $PLAIN
#   cargo build --release --features ndarray,wgpu,fusion --example backend_bench   -> $FUSED
#   cargo build --release --features ndarray,vulkan --example backend_bench        -> $VULKAN
#   (optional: SPIR-V against WGSL, issue 22 item 5)
# Usage: PLAIN=... FUSED=... FASHION=DIR [VULKAN=...] [LIMIT=30000] [EPOCHS=5] [LOG=gpu_rows.log] bash gpu_rows.sh
# FASHION holds Fashion-MNIST's four IDX files (e.g. a 30,000-image subset). Each step prints
# its wall time and result lines (the whole output goes to $LOG); a step that fails or runs past
# its limit is reported and the next one runs.
# "cold" is the first process of each build on a fresh machine (empty driver shader cache and
# autotune cache), "warm" the same command again.
set -u
LIMIT=${LIMIT:-30000}
EPOCHS=${EPOCHS:-5}
PYTHON=${PYTHON:-python3}
LOG=${LOG:-gpu_rows.log}
here=$(dirname "$0")
export AE_FASHION_MNIST_DIR=$FASHION

# step NAME SECONDS COMMAND...: runs COMMAND under a time limit, appends its output to $LOG and
# prints the lines that carry results.
step() {
  local name=$1 limit=$2
  shift 2
  echo "=== $name: $*" | tee -a "$LOG"
  local start lines
  start=$(date +%s.%N)
  lines=$(wc -l <"$LOG")
  timeout "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  echo "=== $name: exit $rc, $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $start}") s wall" | tee -a "$LOG"
  grep -E "^(e2e|dense|conv|vae|matmul)[-a-z0-9 ]* +(wgpu|vulkan|flex|cuda)|median|first epoch|^torch |rror|panicked" \
    <(tail -n +$((lines + 1)) "$LOG") | grep -v "^=== "
}

steps=(--workloads dense-train,dense-train-captured,conv-train,vae-train,dense-infer,conv-infer,dense-infer-captured,conv-infer-captured,matmul)
e2e=(--e2e-limit "$LIMIT" --e2e-epochs "$EPOCHS")
e2e_all=(--workloads e2e-dense,e2e-conv,e2e-vae "${e2e[@]}")
py=("$PYTHON" "$here/pytorch_bench.py" --device cuda --fashion "$FASHION" --epochs "$EPOCHS")

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$LOG"
step pytorch-256 120 "${py[@]}" --rows dense-train,conv-train,vae-train,dense-infer,conv-infer,matmul,e2e-dense
step pytorch-4096 60 "${py[@]}" --batch-size 4096 --rows e2e-dense
step pytorch-f16 60 "${py[@]}" --rows e2e-dense --precision f16
# PyTorch with CUDA graphs (torch.compile reduce-overhead): the bar after eager for --capture.
step pytorch-compiled 240 "${py[@]}" --compile --rows dense-train,conv-train,vae-train,dense-infer,conv-infer,e2e-dense
step plain-e2e-cold 150 "$PLAIN" --device wgpu "${e2e_all[@]}"
step plain-steps 120 "$PLAIN" --device wgpu "${steps[@]}"
step plain-infer-16 60 "$PLAIN" --device wgpu --workloads dense-infer,dense-infer-captured,conv-infer,conv-infer-captured --infer-batch-size 16
step plain-e2e-warm 120 "$PLAIN" --device wgpu "${e2e_all[@]}"
step plain-e2e-4096 60 "$PLAIN" --device wgpu --workloads e2e-dense "${e2e[@]}" --e2e-batch-size 4096
# --capture through fit: one captured step replayed per batch (the VAE cannot be captured).
step plain-e2e-captured 120 "$PLAIN" --device wgpu --workloads e2e-dense,e2e-conv "${e2e[@]}" --e2e-capture
step plain-e2e-4096-captured 60 "$PLAIN" --device wgpu --workloads e2e-dense "${e2e[@]}" --e2e-batch-size 4096 --e2e-capture
# The same binary with Burn's operations in place of this workspace's GPU kernels, and with
# CubeCL's stream per thread: what each of the two changes is worth on this GPU.
step plain-steps-burn-ops 120 env AE_GPU_KERNELS=off "$PLAIN" --device wgpu "${steps[@]}"
step plain-e2e-burn-ops 120 env AE_GPU_KERNELS=off "$PLAIN" --device wgpu "${e2e_all[@]}"
step plain-e2e-per-thread 120 env AE_STREAMS=per-thread "$PLAIN" --device wgpu "${e2e_all[@]}"
# Mixed precision: the layers in f16 (Vulkan's tensor cores take f16, not f32).
step plain-e2e-f16 150 "$PLAIN" --device wgpu "${e2e_all[@]}" --e2e-precision f16
step fused-e2e-cold 180 "$FUSED" --device wgpu "${e2e_all[@]}"
step fused-steps 120 "$FUSED" --device wgpu "${steps[@]}"
step fused-e2e-4096 90 "$FUSED" --device wgpu --workloads e2e-dense "${e2e[@]}" --e2e-batch-size 4096
step fused-e2e-warm 120 "$FUSED" --device wgpu "${e2e_all[@]}"
# SPIR-V (buffer addresses as push constants) against WGSL (a bind group per dispatch).
if [ -n "${VULKAN:-}" ]; then
  step vulkan-e2e-cold 150 "$VULKAN" --device vulkan "${e2e_all[@]}"
  step vulkan-steps 120 "$VULKAN" --device vulkan "${steps[@]}"
  step vulkan-e2e-warm 120 "$VULKAN" --device vulkan "${e2e_all[@]}"
fi
step flex-e2e-dense 90 "$PLAIN" --device flex --workloads e2e-dense "${e2e[@]}"
