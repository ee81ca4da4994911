#!/usr/bin/env bash
# The quickstart on the embedded default: SQLite journal, local target.
# Builds tejun, then checks, plans and runs examples/quickstart.yaml and
# shows what the journal recorded. Nothing outside a temporary folder is
# touched.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p tejun-cli
tejun() { target/release/tejun -i examples/tejun.yaml "$@"; }

# Keep the demo journal out of the way of a real one.
export TEJUN_DB="${TEJUN_DB:-$(mktemp -d)/journal.db}"

echo "== tejun check"; tejun check examples/quickstart.yaml
echo "== tejun plan";  tejun plan examples/quickstart.yaml --env dev
echo "== tejun run";   tejun run examples/quickstart.yaml --env dev --yes
echo "== tejun runs";  tejun runs
run_id=$(tejun runs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
echo "== tejun show $run_id"; tejun show "$run_id"
echo "== tejun audit verify"; tejun audit verify
echo
echo "journal: $TEJUN_DB"
