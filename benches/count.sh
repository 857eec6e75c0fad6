#!/bin/sh
# Deterministic A/B on a noisy host: instructions and simulated cache misses
# of one run of a generated workload (valgrind's cachegrind; the last level is
# modelled as 2 MiB, the L2 of the Xeon host where these counts began, kept so
# that counts compare across sessions; the AMD host since has 1 MiB L2 and a
# 32 MiB L3). Same build, same workload => nearly the same counts, so two
# builds compare without timing noise: within 0.01 % run to run at
# `requests 1001`, 0.2 % at `pools 1000 20 ip`, where jemalloc's purging of
# freed pages (on a wall-clock decay) decides whether a large realloc moves
# and copies (`rep movsb`, counted per byte: see the caveat below).
#
#   benches/count.sh [--bin PATH] WORKLOAD...      e.g. benches/count.sh pools 1000 20 ip
#
# WORKLOAD is as for `cargo run --release -p wharf-benches --example workload`.
# Needs valgrind (Debian: apt-get install valgrind).
# Caveat: valgrind counts each iteration of `rep movsb` (glibc's memcpy of
# large blocks) as one instruction, so large copies add one per byte.
set -eu
bin=""
if [ "${1:-}" = "--bin" ]; then bin=$2; shift 2; fi
if [ -z "$bin" ]; then
    cargo build -q --release -p wharf-benches --example workload
    bin="$(cargo metadata --format-version 1 --no-deps | sed -E 's/.*"target_directory":"([^"]*)".*/\1/')/release/examples/workload"
fi
valgrind --tool=cachegrind --cache-sim=yes --LL=2097152,16,64 --cachegrind-out-file=/dev/null \
    "$bin" --run 1 "$@" 2>&1 >/dev/null |
    awk '/I *refs/ {i=$4} /D1  misses/ {d=$4} /LLd misses/ {l=$4}
         END {print "instructions " i "  L1d misses " d "  last-level data misses " l}'
