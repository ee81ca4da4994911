#!/usr/bin/env bash
# Per-step overhead of `tejun run` (durable journal: two fsynced appends per
# step) against the same commands in bash and against ansible-core with a
# local connection. Not a timed test: numbers go to BENCHMARKS.md.
#
#   bench/steps.sh                 # 200 steps, 10 runs (3 for ansible)
#   STEPS=50 RUNS=5 bench/steps.sh
#   SKIP_ANSIBLE=1 bench/steps.sh  # no pip install
#   TEJUN=/path/to/tejun bench/steps.sh  # an already built release binary
#   TEJUN_BEFORE=/path/to/old/tejun bench/steps.sh  # also an interleaved A/B
#   VARS=1 bench/steps.sh          # each step uses two variables
#   WORK_IN=/dev/shm bench/steps.sh  # journal on tmpfs: no fsync noise
#
# Every contender spawns one `sh -c true` (or /bin/true) per step, so the
# difference is what each tool adds around a process spawn.
# Needs: cargo, python3 (venv + pip for ansible-core), hyperfine if present.
set -euo pipefail

STEPS=${STEPS:-200}
RUNS=${RUNS:-10}
ANSIBLE_RUNS=${ANSIBLE_RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${ANSIBLE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tejun-bench-venv}
WORK=$(mktemp -d "${WORK_IN:-/tmp}/tejun-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ -z "${TEJUN:-}" ]; then
    echo "== building tejun (release)" >&2
    (cd "$ROOT" && cargo build --release --quiet -p tejun-cli)
    TEJUN="$TARGET/release/tejun"
fi

echo "== generating $STEPS steps in $WORK" >&2
printf 'environments:\n  bench:\n    color: green\n' > "$WORK/tejun.yaml"
{
    printf 'name: bench-%s-steps\nenv: bench\n' "$STEPS"
    if [ -n "${VARS:-}" ]; then
        printf 'vars:\n  conf: /etc/app/site.conf\n  weight: "5"\nexecute:\n'
        for i in $(seq 1 "$STEPS"); do printf '  - id: s%d\n    run: true {{conf}} w={{weight}}\n' "$i"; done
    else
        printf 'execute:\n'
        for i in $(seq 1 "$STEPS"); do printf '  - id: s%d\n    run: "true"\n' "$i"; done
    fi
} > "$WORK/steps.yaml"
{
    echo '#!/bin/sh'
    for _ in $(seq 1 "$STEPS"); do echo 'sh -c true'; done
} > "$WORK/steps.sh"
chmod +x "$WORK/steps.sh"
{
    printf -- '- hosts: localhost\n  gather_facts: false\n  tasks:\n'
    for i in $(seq 1 "$STEPS"); do printf '    - name: s%d\n      command: /bin/true\n' "$i"; done
} > "$WORK/playbook.yml"

TEJUN_CMD="cd $WORK && $TEJUN run steps.yaml --env bench --yes > /dev/null"
BASH_CMD="$WORK/steps.sh"
ANSIBLE_CMD=""
if [ -z "${SKIP_ANSIBLE:-}" ]; then
    if [ ! -x "$VENV/bin/ansible-playbook" ]; then
        echo "== installing ansible-core into $VENV" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet -r "$ROOT/bench/steps/requirements.txt"
    fi
    # The venv's own python runs the modules: interpreter discovery may
    # pick a shim (pyenv) that cannot run them.
    ANSIBLE_CMD="ANSIBLE_NOCOWS=1 $VENV/bin/ansible-playbook -i localhost, -c local -e ansible_python_interpreter=$VENV/bin/python $WORK/playbook.yml > /dev/null"
    echo "== $("$VENV/bin/ansible-playbook" --version | head -1)" >&2
fi
# One run first: creates the journal, warms caches, proves it succeeds.
sh -c "$TEJUN_CMD"

if command -v hyperfine > /dev/null; then
    hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/fast.json" \
        -n bash "$BASH_CMD" -n tejun "$TEJUN_CMD" >&2
    files=("$WORK/fast.json")
    if [ -n "$ANSIBLE_CMD" ]; then
        hyperfine --style basic --runs "$ANSIBLE_RUNS" --export-json "$WORK/ansible.json" \
            -n ansible "$ANSIBLE_CMD" >&2
        files+=("$WORK/ansible.json")
    fi
else
    # No hyperfine: time a plain loop and write the same JSON shape.
    measure() { # name runs command
        local name=$1 runs=$2 cmd=$3 times=()
        for _ in $(seq 1 "$runs"); do
            local t0 t1
            t0=$(date +%s%N); sh -c "$cmd"; t1=$(date +%s%N)
            times+=("$(( t1 - t0 ))")
        done
        python3 -c 'import json,sys; print(json.dumps({"results":[{"command":sys.argv[1],"times":[int(t)/1e9 for t in sys.argv[2:]]}]}))' \
            "$name" "${times[@]}" > "$WORK/$name.json"
    }
    measure bash "$RUNS" "$BASH_CMD"
    measure tejun "$RUNS" "$TEJUN_CMD"
    files=("$WORK/bash.json" "$WORK/tejun.json")
    if [ -n "$ANSIBLE_CMD" ]; then
        measure ansible "$ANSIBLE_RUNS" "$ANSIBLE_CMD"
        files+=("$WORK/ansible.json")
    fi
fi

echo
echo "$STEPS steps, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$ROOT/bench/steps/median.py" "$STEPS" "${files[@]}"

if [ -n "${TEJUN_BEFORE:-}" ]; then
    # Its own journal: an older binary refuses a newer journal schema.
    mkdir "$WORK/before"
    cp "$WORK/tejun.yaml" "$WORK/steps.yaml" "$WORK/before/"
    BEFORE_CMD="cd $WORK/before && $TEJUN_BEFORE run steps.yaml --env bench --yes > /dev/null"
    sh -c "$BEFORE_CMD"
    echo
    python3 "$ROOT/bench/steps/ab.py" "$STEPS" "$RUNS" "$BEFORE_CMD" "$TEJUN_CMD"
fi
