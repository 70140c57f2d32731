#!/bin/sh
# The longest input libFuzzer makes for target $1. Model files and training
# states are parsed tensor by tensor, at a cost that grows with the length:
# 64 KiB holds a whole small model (the seeds dims1*.bin), 128 KiB a small
# training state (tiny.state); the rest get 256 KiB.
case $1 in
model) echo 65536 ;;
train_state) echo 131072 ;;
*) echo 262144 ;;
esac
