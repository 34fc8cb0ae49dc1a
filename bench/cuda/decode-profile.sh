#!/usr/bin/env bash
# Per-kernel GPU time of one llamba-1b decode step at batch 1 and 64 (ncu,
# graphs off), from the bundle out/gb.tar.xz (see s6-run.sh). Logs in $OUT.
[ -d /tmp/gb ] || tar -C /tmp -xJf out/gb.tar.xz
CUBLAS=$(find /opt -name 'libcublas.so.1[0-9]*' | grep -v Lt | head -1); export SSMC_CUBLAS=$CUBLAS LD_LIBRARY_PATH=$(dirname $CUBLAS)
R=/tmp/gb/ssmc-run-lite
SSMC_CUDA_GRAPHS=0 timeout 150 ncu --csv --metrics gpu__time_duration.sum $R /tmp/gb/llamba-1b.ssmx --prompt-ids 1 --max-new-tokens 3 > $OUT/b1.csv 2>/dev/null
python3 bench/cuda/decode-profile.py $OUT/b1.csv
P=$(python3 -c "print(';'.join(str(i+1) for i in range(64)))")
SSMC_CUDA_GRAPHS=0 timeout 200 ncu --csv --metrics gpu__time_duration.sum $R /tmp/gb/llamba-1b.ssmx --prompt-ids "$P" --max-new-tokens 3 > $OUT/b64.csv 2>/dev/null
python3 bench/cuda/decode-profile.py $OUT/b64.csv
