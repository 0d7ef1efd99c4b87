#!/bin/sh
# Build and run the libFuzzer targets of the pure layer.
#   t/unit/fuzz.sh               build all, run each for 60 seconds
#   t/unit/fuzz.sh dn 300        build all, run only "dn" for 300 seconds
#   FUZZ_BUILD_ONLY=1 t/unit/fuzz.sh    build only
#   FUZZ_NO_BUILD=1 t/unit/fuzz.sh cert run an earlier build (parallel runs)
# Needs clang with libFuzzer (Debian: clang libclang-rt-14-dev).  Inputs
# found go to t/build/fuzz/<target>/ (new coverage) and crash-* /
# timeout-* files in the same place; copy the interesting ones into
# t/unit/corpus/<target>/ so that "make -f Makefile.apxs unit" replays them.
set -eu
cd "$(dirname "$0")/../.."
ONLY=${1:-}
SECS=${2:-${FUZZ_SECONDS:-60}}
CC=${FUZZ_CC:-clang}
OUT=t/build/fuzz
PURE="modules/mtls_cert.c modules/mtls_cert_twins.c modules/mtls_dn.c modules/mtls_field.c \
      modules/mtls_rule.c modules/mtls_match.c modules/mtls_filefmt.c \
      modules/mtls_ldapfilter.c modules/mtls_fwdfmt.c modules/mtls_fwd.c modules/mtls_lru.c modules/mtls_certcache.c \
      modules/mtls_dirfmt.c"
CFLAGS="-std=gnu99 -g -O1 -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Imodules -It/unit $(apr-1-config --cflags --cppflags --includes)"
LIBS="$(apr-1-config --link-ld --libs) -lssl -lcrypto -lpcre2-8"

mkdir -p "$OUT"
[ -n "${FUZZ_NO_BUILD:-}" ] || for t in dn filefmt cert ldapfilter fwd dirfmt; do
    echo "building fuzz_$t"
    # shellcheck disable=SC2086
    $CC $CFLAGS -o "$OUT/fuzz_$t" t/unit/fuzz/fuzz_$t.c t/unit/fuzz_targets.c t/unit/fuzz_fwd.c \
        $PURE $LIBS
done
[ -n "${FUZZ_BUILD_ONLY:-}" ] && exit 0

status=0
for t in dn filefmt cert ldapfilter fwd dirfmt; do
    [ -n "$ONLY" ] && [ "$ONLY" != "$t" ] && continue
    mkdir -p "$OUT/$t"
    echo "running fuzz_$t for ${SECS}s"
    # New inputs go to $OUT/$t; the seed corpus is read, never written.
    if ! "$OUT/fuzz_$t" -max_total_time="$SECS" -max_len=4096 -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$OUT/$t/" "$OUT/$t" "t/unit/corpus/$t" \
            >"$OUT/$t.log" 2>&1; then
        echo "fuzz_$t FOUND A PROBLEM: see $OUT/$t.log and $OUT/$t/crash-*"
        status=1
    fi
    grep -E '^stat::(number_of_executed_units|new_units_added)|^#[0-9]+.*DONE' \
        "$OUT/$t.log" || true
done
exit $status
