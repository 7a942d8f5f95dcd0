#!/usr/bin/env bash
# The CUDA rows of docs/gpu.md (issue 23), in one go, on a machine with an NVIDIA GPU, its
# driver, PyTorch with CUDA, and these builds (all made offline; docs/gpu.md "CUDA, built
# offline"; CUDARC_CUDA_VERSION pins cudarc's bindings to the driver's CUDA, 13000 for driver
# 580, where the build machine has no nvcc to ask):
#   cargo xtask cuda-llvm --install
#   CUDARC_CUDA_VERSION=13000 cargo build --release --features cuda --example backend_bench  -> $CUDA
#   cargo build --release --features ndarray,wgpu --example backend_bench                    -> $PLAIN
#   CUDARC_CUDA_VERSION=13000 cargo test --release -p ae-train --features cuda --test backends \
#       --no-run                                                    -> $TESTS (optional: the binary)
# Usage: CUDA=... PLAIN=... FASHION=DIR [TESTS=...] [LIMIT=30000] [EPOCHS=3] [LOG=cuda_rows.log]
#   bash cuda_rows.sh
# FASHION holds Fashion-MNIST's four IDX files. Each step prints its wall time and result lines
# (the whole output goes to $LOG); a step that fails or runs past its limit is reported and the
# next one runs. "cold" is the first process of a build on a fresh machine (no PTX cache), "warm"
# the same command again. Order: correctness first (the cross-backend test), then fp32 with TF32
# off on PyTorch's side, then TF32 and bf16 on both sides, then DDP's NCCL path on one GPU.
set -u
LIMIT=${LIMIT:-30000}
EPOCHS=${EPOCHS:-3}
PYTHON=${PYTHON:-python3}
LOG=${LOG:-cuda_rows.log}
here=$(dirname "$0")
: "${CUDA:?CUDA=path of the cuda build of backend_bench}" "${PLAIN:?PLAIN=path of the wgpu build}"
: "${FASHION:?FASHION=the folder of the Fashion-MNIST IDX files}"
export AE_FASHION_MNIST_DIR=$FASHION

# cubecl-llvm links CUDA's math functions from libdevice.10.bc under $CUDA_PATH/nvvm/libdevice
# (it also looks in /usr/local/cuda); cudarc opens NCCL as libnccl.so, which PyTorch's wheel
# ships as libnccl.so.2 only.
if [ -z "${CUDA_PATH:-}" ]; then
  libdevice=$(find / -xdev -name libdevice.10.bc -path '*nvvm/libdevice*' 2>/dev/null | head -1)
  [ -n "$libdevice" ] && export CUDA_PATH=${libdevice%/nvvm/libdevice/libdevice.10.bc}
fi
nccl=$(find / -xdev -name 'libnccl.so*' 2>/dev/null | head -1)
if [ -n "$nccl" ]; then
  mkdir -p /tmp/nccl-link && ln -sf "$nccl" /tmp/nccl-link/libnccl.so
  export LD_LIBRARY_PATH=/tmp/nccl-link${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
echo "CUDA_PATH=${CUDA_PATH:-unset} NCCL=${nccl:-not found}" | tee -a "$LOG"

# step NAME SECONDS COMMAND...: as in gpu_rows.sh.
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
  grep -E "^(e2e|dense|conv|vae|matmul)[-a-z0-9 ]* +(wgpu|flex|cuda)|median|first epoch|^torch |^test |test result|rror|panicked" \
    <(tail -n +$((lines + 1)) "$LOG") | grep -v "^=== "
}

steps=(--workloads dense-train,dense-train-captured,conv-train,vae-train,dense-infer,conv-infer,matmul)
e2e=(--e2e-limit "$LIMIT" --e2e-epochs "$EPOCHS")
e2e_all=(--workloads e2e-dense,e2e-conv,e2e-vae "${e2e[@]}")
py=("$PYTHON" "$here/pytorch_bench.py" --device cuda --fashion "$FASHION" --epochs "$EPOCHS")
py_rows=(--rows dense-train,conv-train,vae-train,dense-infer,conv-infer,matmul,e2e-dense)

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$LOG"
# Correctness: the zoo's models give flex's outputs on cuda (and whether TF32 moves them).
[ -n "${TESTS:-}" ] && step cuda-tests 240 env AE_REQUIRE_CUDA=1 "$TESTS" --test-threads 1
step cuda-e2e-cold 180 "$CUDA" --device cuda "${e2e_all[@]}"
step cuda-steps 120 "$CUDA" --device cuda "${steps[@]}"
step cuda-e2e-warm 120 "$CUDA" --device cuda "${e2e_all[@]}"
step cuda-e2e-4096 60 "$CUDA" --device cuda --workloads e2e-dense "${e2e[@]}" --e2e-batch-size 4096
step cuda-e2e-captured 90 "$CUDA" --device cuda --workloads e2e-dense,e2e-conv "${e2e[@]}" --e2e-capture
step pytorch-fp32 120 "${py[@]}" "${py_rows[@]}"
step pytorch-4096 60 "${py[@]}" --batch-size 4096 --rows e2e-dense
step plain-e2e-warm 120 "$PLAIN" --device wgpu "${e2e_all[@]}"
# TF32 and bf16, both sides.
step cuda-e2e-tf32 120 "$CUDA" --device cuda "${e2e_all[@]}" --e2e-precision tf32
step pytorch-tf32 120 "${py[@]}" --tf32 "${py_rows[@]}"
step cuda-e2e-bf16 120 "$CUDA" --device cuda "${e2e_all[@]}" --e2e-precision bf16
step pytorch-bf16 60 "${py[@]}" --rows e2e-dense --precision bf16
# DDP (NCCL's all-reduce) on the one GPU: the path runs, and what it costs against multi.
step cuda-e2e-ddp 90 "$CUDA" --device cuda --workloads e2e-dense "${e2e[@]}" --strategy ddp
