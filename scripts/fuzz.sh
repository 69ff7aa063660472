#!/usr/bin/env bash
# Fuzzes the trace importer and the saved-summary reader with libFuzzer and AddressSanitizer
# (docs/reliability.md). The target (fuzz/FuzzTarget.swift) is compiled with the C shims and the
# TraceModel, TraceImport, Analysis, Formatting and Report sources outside SwiftPM, one module at a time.
#
#   scripts/fuzz.sh [SECONDS] [libFuzzer options...]   run for SECONDS (default 60); exit 1 on a crash
#   scripts/fuzz.sh --build                             only build .build/fuzz/fuzz-import
#
# The working corpus is .build/fuzz/corpus (kept between runs), seeded from fuzz/seeds and from the
# first few KB of the traces in ../shared/traces when present. Crashing inputs are written to
# .build/fuzz/crash-*; reproduce one with `.build/fuzz/fuzz-import FILE`. Without libFuzzer in the
# toolchain the script says so and exits 0. FUZZ_NICE=1 runs at nice 19.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=.build/fuzz
mkdir -p "$out"

# libFuzzer ships with the Swift toolchain on Linux; check that this one links it.
echo '@_cdecl("LLVMFuzzerTestOneInput") public func f(_ d: UnsafePointer<UInt8>, _ n: Int) -> Int32 { 0 }' > "$out/probe.swift"
if ! swiftc -sanitize=fuzzer,address -parse-as-library "$out/probe.swift" -o "$out/probe" > "$out/probe.log" 2>&1; then
    echo "fuzz: this Swift toolchain cannot build with -sanitize=fuzzer (no libFuzzer); skipping" >&2
    sed 's/^/fuzz:   /' "$out/probe.log" | head -5 >&2
    exit 0
fi

# C shims (folder, header, library) and Swift modules in dependency order; every .swift file
# under each module's Sources/ folder.
shims=("CZlib czlib.h z" "CISAL cisal.h isal" "CSQLite csqlite.h sqlite3")
modules=(TraceModel TraceImport Analysis Formatting Report)
binary=$out/fuzz-import
# Edge coverage without comparison tracing (trace-cmp costs a third of the executions; the
# dictionary fuzz/trace.dict supplies the tokens instead).
flags=(-O -g -sanitize=address -sanitize-coverage=edge,inline-8bit-counters,pc-table -parse-as-library -enable-testing
       -wmo -swift-version 6 -I "$out")
# A step is redone when one of its inputs (or this script) is newer than its output.
newer() { local target=$1; shift; [ ! -e "$target" ] || [ -n "$(find "$@" scripts/fuzz.sh -newer "$target" -print -quit)" ]; }
relink=0
objects=()
libraries=()
for shim in "${shims[@]}"; do
    read -r name header library <<< "$shim"
    mkdir -p "$out/$name"
    flags+=(-I "$out/$name")
    libraries+=("-l$library")
    if newer "$out/$name.o" Sources/"$name"; then
        printf 'module %s {\n    header "%s/Sources/%s/include/%s"\n    link "%s"\n    export *\n}\n' \
            "$name" "$root" "$name" "$header" "$library" > "$out/$name/module.modulemap"
        clang -c -O1 -g -fsanitize=address,fuzzer-no-link -I Sources/"$name"/include Sources/"$name"/shim.c -o "$out/$name.o"
        relink=1
    fi
    objects+=("$out/$name.o")
done
for m in "${modules[@]}"; do
    # A module is rebuilt when it or a module before it changed (their interfaces are its inputs).
    if [ "$relink" = 1 ] || newer "$out/$m.o" Sources/"$m"; then
        echo "fuzz: compiling $m" >&2
        mapfile -t files < <(find Sources/"$m" -name '*.swift' | sort)
        swiftc "${flags[@]}" -module-name "$m" -emit-module -emit-module-path "$out/$m.swiftmodule" -c "${files[@]}" -o "$out/$m.o"
        touch "$out/$m.o"  # swiftc keeps the old time when the object did not change
        relink=1
    fi
    objects+=("$out/$m.o")
done
if [ "$relink" = 1 ] || newer "$binary" fuzz/FuzzTarget.swift; then
    echo "fuzz: linking $binary" >&2
    rm -f "$binary"
    swiftc "${flags[@]}" -sanitize=fuzzer fuzz/FuzzTarget.swift "${objects[@]}" "${libraries[@]}" -o "$binary" 2>&1 \
        | grep -v "ld.gold: warning: Cannot export local symbol" >&2 || true
    [ -x "$binary" ]
fi
[ "${1:-}" = "--build" ] && exit 0

seconds=${1:-60}
shift || true

# Seeds: the hand-written cases, and the first 4 KB of each shared trace (inflated), cut after the
# last whole event and closed, so they parse.
seeds=$out/seeds-shared
mkdir -p "$out/corpus" "$seeds"
if [ -d ../shared/traces ] && [ -z "$(ls -A "$seeds")" ] && command -v python3 >/dev/null; then
    python3 - "$seeds" <<'PY'
import gzip, pathlib, sys
out = pathlib.Path(sys.argv[1])
for i, p in enumerate(sorted(pathlib.Path("../shared/traces").rglob("*.json*"))):
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rb") as f:
            head = f.read(4096)
    except OSError:
        continue
    cut = max(head.rfind(b"},\n"), head.rfind(b"}, "), head.rfind(b"},"))
    if b"traceEvents" in head and cut > 0:
        head = head[:cut + 1] + b"]}"
    (out / f"shared-{i:02d}.json").write_bytes(head)
PY
    echo "fuzz: $(ls "$seeds" | wc -l) seeds from ../shared/traces" >&2
fi

run=("$binary" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
     -dict=fuzz/trace.dict -artifact_prefix="$out/" "$@" "$out/corpus" fuzz/seeds "$seeds")
if [ "${FUZZ_NICE:-0}" = 1 ]; then run=(nice -n 19 "${run[@]}"); fi
# Leaks are not crashes here.
# No allocation stacks or malloc fill (a fifth of the time otherwise); reports still name the access.
ASAN_OPTIONS=detect_leaks=0:malloc_context_size=0:max_malloc_fill_size=0:${ASAN_OPTIONS:-} "${run[@]}"
