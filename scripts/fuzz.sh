#!/usr/bin/env bash
# libFuzzer over the parsers that face untrusted input: the expression parser and evaluator, the
# scenario loader, the protobuf codec, the JWT path and the simulator's frame path.
#
#   scripts/fuzz.sh                      every target, 60 s each
#   scripts/fuzz.sh 300 FuzzJWT          one target, 300 s
#   FUZZ_JOBS=2 scripts/fuzz.sh 600      two fuzzing processes per target
#
# Builds with `-sanitize=fuzzer,address` in its own scratch path (.build-fuzz: the first build
# takes a long time), the targets declared only when TAPEDECK_FUZZ is set (see Package.swift).
# Each target keeps its corpus in .build-fuzz/corpus/<target> (seeded from the repository's
# scenarios, profiles and recordings where it fits) and writes what crashes it to
# .build-fuzz/crashes/<target>/: make each one a regression test. Exits 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(FuzzExpression FuzzScenario FuzzProtobuf FuzzJWT FuzzFrames)
SCRATCH=.build-fuzz
export TAPEDECK_FUZZ=1
# No leak detection: Swift's globals (a target's fixtures, lazily made caches) look leaked to LSan.
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

for target in "${TARGETS[@]}"; do
  echo "== build $target"
  swift build --scratch-path "$SCRATCH" --product "$target" ${FUZZ_BUILD_JOBS:+-j "$FUZZ_BUILD_JOBS"} -Xswiftc -sanitize=fuzzer,address
done
BIN=$(TAPEDECK_FUZZ=1 swift build --scratch-path "$SCRATCH" --show-bin-path)

seed() { # target corpus-dir
  case $1 in
    FuzzExpression)
      # Every template in the built-in profiles, one per file.
      grep -rhoE '\{\{[^}]*\}\}' Sources/TapedeckProtocol/Profiles/*.yaml scenarios | sort -u | head -500 |
        awk -v d="$2" '{ f = d "/seed-" NR; print > f; close(f) }' ;;
    FuzzScenario) find scenarios -name '*.yaml' -exec cp {} "$2/" \; ;;
    FuzzProtobuf) printf '\x0a\x02id' >"$2/seed-1" ;;
    FuzzJWT)
      printf '{"sub":"ana","tenant_id":"acme","permissions":["incidents"],"squads":["platform"],"exp":1737113400}' >"$2/seed-1"
      printf 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.x' >"$2/seed-2" ;;
    FuzzFrames)
      printf '\x01\x81\x85\x00\x00\x00\x00hello' >"$2/seed-1"
      printf '\x01\x01\x83\x01\x02\x03\x04abc\x80\x83\x01\x02\x03\x04def' >"$2/seed-2"
      printf '\x01\x89\x80\x00\x00\x00\x00\x88\x82\x00\x00\x00\x00\x03\xe8' >"$2/seed-3" ;;
  esac
}

crashed=()
for target in "${TARGETS[@]}"; do
  corpus="$SCRATCH/corpus/$target"
  crashes="$SCRATCH/crashes/$target"
  mkdir -p "$corpus" "$crashes"
  [ -n "$(ls -A "$corpus")" ] || seed "$target" "$corpus"
  echo "== $target: $SECONDS_EACH s"
  log="$SCRATCH/$target.log"
  parallel=()
  [ -z "${FUZZ_JOBS:-}" ] || parallel=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
  if "$BIN/$target" "$corpus" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
      ${parallel[@]+"${parallel[@]}"} -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1; then
    awk '/^stat::number_of_executed_units/ { runs = $2 } /^stat::average_exec_per_sec/ { rate = $2 }
         /^stat::peak_rss_mb/ { rss = $2 } /DONE/ { cov = $4 }
         END { printf "no crash: %d runs (%d/s), %s coverage points, peak RSS %d MB, ", runs, rate, cov, rss }' "$log"
    echo "$(ls "$corpus" | wc -l) inputs in the corpus"
  else
    echo "$target CRASHED: see $log and $crashes/"
    grep -E 'ERROR: (AddressSanitizer|libFuzzer)|Fatal error|SUMMARY' "$log" | head -5 || true
    crashed+=("$target")
  fi
done
if [ ${#crashed[@]} -gt 0 ]; then
  echo "crashed: ${crashed[*]}"
  exit 1
fi
echo "no crash"
