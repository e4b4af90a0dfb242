#!/bin/sh
# Runs the test binaries of one build flavor and prints one closing line
# "N passed, N failed, N skipped" (cmocka's own counts summed), so CI reads a
# total. Usage: tests/run.sh BUILD_DIR fast|slow
# A binary that crashes or times out counts as one failed test.
B=$1
MODE=$2
TIMEOUT=${KAKEYA_TEST_TIMEOUT:-300}
passed=0; failed=0; skipped=0; bad=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The Makefile names the binaries of the current sources (KK_BINS,
# KK_REPLAYS), so a binary left in build/ by a test that was moved or
# removed never runs; without them, every binary found runs.
if [ -n "${KK_BINS:-}" ]; then
    bins=$(printf '%s\n' $KK_BINS | sort)
elif [ "$MODE" = slow ]; then
    bins=$(find "$B/tests" -type f -name 'slow_*' ! -name '*.d' 2>/dev/null | sort)
else
    bins=$(find "$B/tests" -type f -name 'test_*' ! -name '*.d' 2>/dev/null | sort)
fi

count() { # $1 = pattern; prints the sum of N in "[ pattern ] N test(s)"
    grep -E "^\[ *$1 *\] [0-9]+ test" "$log" | sed -E 's/^\[[^]]*\] ([0-9]+).*/\1/' | awk '{s+=$1} END {print s+0}'
}

for t in $bins; do
    name=${t#$B/tests/}
    printf '== %s\n' "$name"
    timeout "$TIMEOUT" "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(count PASSED); f=$(count FAILED); s=$(count SKIPPED)
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    [ $rc -ne 0 ] && bad="$bad $name(rc=$rc)"
done

if [ "$MODE" = fast ]; then
    # Fuzz corpora replay through the same entry points, without libFuzzer.
    if [ -n "${KK_REPLAYS:-}" ]; then
        replays=$(printf '%s\n' $KK_REPLAYS | sort)
    else
        replays=$(find "$B/replay" -type f ! -name '*.d' 2>/dev/null | sort)
    fi
    for r in $replays; do
        name=$(basename "$r")
        dirs="tests/fuzz/corpus/$name"
        [ -f "tests/fuzz/$name.seeds" ] && dirs="$dirs $(sed "s|\${KAKEYA_FIXTURES}|$KAKEYA_FIXTURES|g" "tests/fuzz/$name.seeds")"
        printf '== replay %s\n' "$name"
        if timeout "$TIMEOUT" "$r" $dirs; then passed=$((passed + 1)); else failed=$((failed + 1)); bad="$bad replay:$name"; fi
    done
fi

[ -n "$bad" ] && echo "failing:$bad"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
