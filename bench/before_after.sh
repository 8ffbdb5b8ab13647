#!/usr/bin/env bash
# The typing and in-flight benchmarks on two commits, interleaved (before, after,
# before, after, …) so that a shared machine's load falls on both alike.
#
#   bench/before_after.sh BEFORE [AFTER] [ROUNDS]      (AFTER: HEAD; ROUNDS: 2)
#
# Each commit gets a worktree and a venv of its own under a temporary folder (both
# removed at the end) and runs its own copy of the benches:
#   python bench/inflight_bench.py $INFLIGHT_ARGS   (default: --n 100 --sides poller,budget)
#   python bench/typing_bench.py $TYPING_ARGS       (default: the full size)
# Every run's output, with `uptime` before and after, is kept in the folder printed
# at the end.
set -euo pipefail
before=${1:?usage: bench/before_after.sh BEFORE [AFTER] [ROUNDS]}
after=${2:-HEAD}
rounds=${3:-2}
inflight_args=${INFLIGHT_ARGS:---n 100 --sides poller,budget}
typing_args=${TYPING_ARGS:-}
repo=$(git rev-parse --show-toplevel)
out=$(mktemp -d "${TMPDIR:-/tmp}/pixverse-before-after-XXXXXX")

cleanup() {
    for side in before after; do
        [ -d "$out/$side" ] && git -C "$repo" worktree remove --force "$out/$side" || true
    done
}
trap cleanup EXIT

for side in before after; do
    rev=$before
    [ "$side" = after ] && rev=$after
    git -C "$repo" worktree add --quiet --detach "$out/$side" "$rev"
    python3 -m venv "$out/$side/.venv"
    "$out/$side/.venv/bin/pip" install --quiet -e "$out/$side[test]" > "$out/pip-$side.log" 2>&1 \
        || { cat "$out/pip-$side.log"; exit 1; }
    echo "$side: $(git -C "$out/$side" log --oneline -1)" | tee -a "$out/commits.txt"
done

one() {  # side bench round args...
    local side=$1 bench=$2 round=$3
    shift 3
    local file="$out/$bench-$side-$round.txt"
    echo "start: $(uptime)" > "$file"
    # shellcheck disable=SC2068  # the arguments are meant to split
    (cd "$out/$side" && timeout 1800 .venv/bin/python "bench/$bench.py" $@) \
        >> "$file" 2> "$file.err" || echo "exit $?" >> "$file"
    echo "end: $(uptime)" >> "$file"
    echo "$bench $side round $round done"
}

for round in $(seq "$rounds"); do
    for side in before after; do one "$side" inflight_bench "$round" $inflight_args; done
    for side in before after; do one "$side" typing_bench "$round" $typing_args; done
done
cleanup
trap - EXIT
echo "results: $out"
