#!/usr/bin/env python3
"""Side-by-side FLOPs and bytes per operator: stepscope's model against TraceLens's perf model.

Usage: scripts/tracelens_compare.py TRACELENS_CHECKOUT STEPSCOPE_BINARY TRACE.json.gz...

Loads TraceLens's TraceLens/PerfModel/{perf_model,utils,kernel_name_parser}.py from the given
checkout (they need only the standard library; TraceLens's package __init__ needs pandas, so the
three files are loaded as a package of their own), applies its GEMM and SDPA classes to every
event of the operators both model, sums per operator name, and prints a markdown table next to
`stepscope report --format json`'s `flops` and `bytes` for the same rows (docs/tracelens-comparison.md).
"""
import gzip
import importlib.util
import json
import os
import subprocess
import sys
import types


def load_tracelens(checkout):
    base = os.path.join(checkout, "TraceLens", "PerfModel")
    pkg = types.ModuleType("tlpm")
    pkg.__path__ = [base]
    sys.modules["tlpm"] = pkg
    for name in ["utils", "kernel_name_parser", "perf_model"]:
        spec = importlib.util.spec_from_file_location("tlpm." + name, os.path.join(base, name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["tlpm." + name] = mod
        spec.loader.exec_module(mod)
    return sys.modules["tlpm.perf_model"]


def main():
    checkout, binary, traces = sys.argv[1], sys.argv[2], sys.argv[3:]
    pm = load_tracelens(checkout)
    classes = {
        "aten::mm": pm.aten_mm,
        "aten::addmm": pm.aten_addmm,
        "aten::bmm": pm.aten_bmm,
        "aten::_scaled_mm": pm.aten_scaled_mm,
        "aten::_scaled_dot_product_flash_attention": pm.aten__scaled_dot_product_flash_attention,
        "aten::_scaled_dot_product_efficient_attention": pm.aten__scaled_dot_product_efficient_attention,
    }
    print("| trace | operator | calls | stepscope GFLOP | TraceLens GFLOP | diff | stepscope MB | TraceLens MB | diff |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for path in traces:
        events = json.load(gzip.open(path))["traceEvents"]
        theirs = {}
        for e in events:
            cls = classes.get(e.get("name")) if e.get("cat") == "cpu_op" else None
            if cls is None:
                continue
            m = cls(e)
            bpe = 2 if "SDPA" in getattr(cls, "category", "") else None
            b = m.bytes(bytes_per_element=2) if bpe else m.bytes()
            t = theirs.setdefault(e["name"], [0, 0, 0])
            t[0] += 1
            t[1] += m.flops()
            t[2] += b or 0
        report = json.loads(subprocess.run([binary, "report", "--format", "json", path], check=True,
                                           capture_output=True, text=True).stdout)
        ours = {o["name"]: o for o in report["ranks"][0]["ops"]}
        for name in sorted(theirs):
            calls, tf, tb = theirs[name]
            o = ours.get(name, {})
            of, ob = o.get("flops") or 0, o.get("bytes") or 0
            def d(a, b):
                return "%+.2f%%" % (100.0 * (a - b) / b) if b else "-"
            print("| %s | `%s` | %d | %.3f | %.3f | %s | %.3f | %.3f | %s |" % (
                os.path.basename(path).split("__")[0], name, calls, of / 1e9, tf / 1e9, d(of, tf), ob / 1e6, tb / 1e6, d(ob, tb)))


if __name__ == "__main__":
    main()
