#!/usr/bin/env bash
# The main job: Fashion-MNIST, 784,100,10, sigmoid hidden, softmax output, log-likelihood,
# η = 0.1, λ = 5, batch 10, 30 epochs, 2 MPI ranks × 1 thread.
# usage: tools/main-job.sh PARAPROP OUT_DIR   (writes OUT_DIR/fashion-mnist.h5, OUT_DIR/main-job/)
set -euo pipefail
bin=$1 out=$2
fm=/usr/share/datasets/fashion-mnist
mkdir -p "$out"
if [ ! -f "$out/fashion-mnist.h5" ]; then
  "$bin" convert idx --train-images $fm/train-images-idx3-ubyte.gz \
    --train-labels $fm/train-labels-idx1-ubyte.gz --test-images $fm/t10k-images-idx3-ubyte.gz \
    --test-labels $fm/t10k-labels-idx1-ubyte.gz -o "$out/fashion-mnist.h5"
fi
# Open MPI refuses root without these two; harmless for other users.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# A fresh run directory: one holding checkpoints would be resumed instead.
rm -rf "$out/main-job"
mpiexec -n 2 --bind-to none "$bin" train --data "$out/fashion-mnist.h5" --layers 784,100,10 \
  --hidden-activation sigmoid --output-activation softmax --cost log-likelihood \
  --learning-rate 0.1 --l2 5 --batch-size 10 --epochs 30 --threads 1 --run-dir "$out/main-job"
