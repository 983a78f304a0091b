#!/usr/bin/env bash
# The main job, end to end, in a throwaway home: keygen, wrap, attenuate, inspect, verify.
# Uses the release binaries (cargo build --release) unless MACAROON_BIN_DIR says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${MACAROON_BIN_DIR:-target/release}
export MACAROON_HOME; MACAROON_HOME=$(mktemp -d)
export MACAROON_STORE=file
trap 'rm -rf "$MACAROON_HOME"' EXIT

say() { if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; else printf '\n$ %s\n' "$*" >&2; fi; }

say "macaroon-proxy keygen"
"$bin/macaroon-proxy" keygen

say "printf %s sk_test_FAKE | macaroon wrap stripe --host api.stripe.com"
printf %s "sk_test_FAKE_$(date +%s)" | "$bin/macaroon" wrap stripe --host api.stripe.com >/dev/null

say "macaroon attenuate stripe --expires 10m --method GET --path /v1/charges"
token=$("$bin/macaroon" attenuate stripe --expires 10m --method GET --path /v1/charges)
echo "$token"

say "macaroon inspect \$TOKEN"
"$bin/macaroon" inspect "$token"

say "macaroon verify \$TOKEN --method GET --url https://api.stripe.com/v1/charges/ch_1"
"$bin/macaroon" verify "$token" --method GET --url https://api.stripe.com/v1/charges/ch_1

say "macaroon verify \$TOKEN --method POST --url https://api.stripe.com/v1/refunds"
"$bin/macaroon" verify "$token" --method POST --url https://api.stripe.com/v1/refunds || echo "(exit $?: denied)" >&2

say "macaroon list"
"$bin/macaroon" list
