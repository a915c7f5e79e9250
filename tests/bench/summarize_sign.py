#!/usr/bin/env python3
"""Summarize results files of run_sign.sh: one Markdown row per benchmark row.

    tests/bench/summarize_sign.py RESULTS_FILE...

Each figure is the median over the files (runs) with min..max beside it when
there is more than one run.  Ratios are the medians of the per-run ratios
(each run's appliance figure divided by that same run's baseline), not ratios
of medians.
"""
import statistics
import sys


def parse(path):
    """Returns {row_key: {"sign": {...}, "raw-pkcs11": {...}, "raw-pkcs11-verify": {...}}}."""
    rows, cur = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kv = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
            if kv.get("mode") == "sign":
                cur = (kv["alg"], kv["pad"], int(kv["clients"]), int(kv["depth"]))
                rows[cur] = {"sign": kv}
            elif "baseline" in kv and cur is not None:
                rows[cur][kv["baseline"]] = kv
    return rows


def fmt(values, digits=0):
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.{digits}f}"
    return f"{med:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def main(paths):
    runs = [parse(p) for p in paths]
    keys = []
    for r in runs:
        keys.extend(k for k in r if k not in keys)
    print("| key | pad | clients×depth | n | appliance sig/s | p50 / p99 / p99.9 ms | errors "
          "| raw sign sig/s | ratio | raw sign+C_Verify sig/s | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for k in keys:
        rs = [r[k] for r in runs if k in r]
        get = lambda part, field: [float(r[part][field]) for r in rs if part in r]
        lat = "{} / {} / {}".format(
            fmt([v / 1000 for v in get("sign", "p50_us")], 2),
            fmt([v / 1000 for v in get("sign", "p99_us")], 2),
            fmt([v / 1000 for v in get("sign", "p999_us")], 2))
        errs = int(sum(get("sign", "errors")))
        print(f"| {k[0]} | {k[1]} | {k[2]}×{k[3]} | {len(rs)} | {fmt(get('sign', 'throughput_per_s'))} "
              f"| {lat} | {errs} "
              f"| {fmt(get('raw-pkcs11', 'baseline_throughput_per_s'))} | {fmt(get('raw-pkcs11', 'ratio'), 2)} "
              f"| {fmt(get('raw-pkcs11-verify', 'baseline_throughput_per_s'))} "
              f"| {fmt(get('raw-pkcs11-verify', 'ratio'), 2)} |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
