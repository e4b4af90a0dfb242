#!/bin/sh
# Runs one libFuzzer target for SECONDS. New inputs go to a work corpus
# outside git (tests/fuzz/corpus-work/NAME); the committed corpus and the
# fixture seeds are read-only inputs. Crashers land in build/fuzz/crashes/.
# Usage: tests/fuzz/run.sh FUZZER NAME SECONDS
F=$1; NAME=$2; SECS=$3
work=tests/fuzz/corpus-work/$NAME
mkdir -p "$work" build/fuzz/crashes "tests/fuzz/corpus/$NAME"
dirs="tests/fuzz/corpus/$NAME"
[ -f "tests/fuzz/$NAME.seeds" ] && dirs="$dirs $(sed "s|\${KAKEYA_FIXTURES}|$KAKEYA_FIXTURES|g" "tests/fuzz/$NAME.seeds")"
extra=""
[ -f "tests/fuzz/$NAME.dict" ] && extra="-dict=tests/fuzz/$NAME.dict"
echo "fuzz-run: $NAME for ${SECS}s, corpus $work $dirs"
exec "$F" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix=build/fuzz/crashes/"$NAME"- $extra "$work" $dirs
