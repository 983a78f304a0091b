#!/usr/bin/env bash
# Regenerates the shell completions of both binaries from their flag definitions.
# Run from the repository root after changing any flag: bash completions/generate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bins
for bin in macaroon macaroon-proxy; do
  for shell in bash zsh fish elvish powershell; do
    case $shell in
      bash) file=$bin.bash ;;
      zsh) file=_$bin ;;
      fish) file=$bin.fish ;;
      elvish) file=$bin.elv ;;
      powershell) file=_$bin.ps1 ;;
    esac
    ./target/debug/$bin completions $shell > completions/$file
  done
done
echo "completions/ regenerated"
