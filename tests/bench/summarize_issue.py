#!/usr/bin/env python3
"""Summarize results files of run_issue.sh and of `signet-bench crl` as Markdown tables.

    tests/bench/summarize_issue.py RESULTS_FILE...

A file may hold mode=issue rows (with their baseline lines), a mode=sign row
(run_issue.sh's P-384 comparison row), and mode=crl rows with their growth=
lines.  Each figure is the median over the files (runs), with min..max beside
it when there is more than one run.  Ratios are the medians of the per-run
ratios (each run's figure over that same run's baseline), not ratios of
medians.
"""
import statistics
import sys


def kv(line):
    return dict(tok.split("=", 1) for tok in line.split() if "=" in tok)


def parse(path):
    """Returns (issue rows, sign rows, crl rows, growth rows), each {key: {part: kv}}."""
    issue, sign, crl, growth, cur = {}, {}, {}, {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            d = kv(line)
            if d.get("mode") == "issue":
                cur = issue.setdefault((int(d["clients"]), int(d["depth"])), {})
                cur["load"] = d
            elif d.get("mode") == "sign":
                cur = sign.setdefault((d["key"], int(d["clients"]), int(d["depth"])), {})
                cur["load"] = d
            elif d.get("mode") == "crl":
                crl[int(d["revoked"])] = {"crl": d}
                cur = None
            elif "growth" in d:
                growth[d["growth"]] = {"growth": d}
                cur = None
            elif "baseline" in d and cur is not None:
                cur[d["baseline"]] = d
    return issue, sign, crl, growth


def fmt(values, digits=0):
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.{digits}f}"
    return f"{med:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def getter(rows):
    return lambda part, field, scale=1.0: [
        float(r[part][field]) * scale for r in rows if part in r and field in r[part]]


def keys_of(tables):
    keys = []
    for t in tables:
        keys.extend(k for k in t if k not in keys)
    return keys


def main(paths):
    runs = [parse(p) for p in paths]
    issue = [r[0] for r in runs]
    if any(issue):
        print("| clients×depth | n | certificates/s | p50 / p99 / p99.9 ms | errors "
              "| daemon CPU µs/cert | raw sign sig/s | ratio | raw sign+C_Verify sig/s | ratio "
              "| cpu_ratio vs sign+C_Verify |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for k in keys_of(issue):
            rs = [r[k] for r in issue if k in r]
            g = getter(rs)
            lat = " / ".join(fmt(g("load", f, 1e-3), 1) for f in ("p50_us", "p99_us", "p999_us"))
            errs = int(sum(g("load", "errors")))
            print(f"| {k[0]}×{k[1]} | {len(rs)} | {fmt(g('load', 'throughput_per_s'))} | {lat} "
                  f"| {errs} | {fmt(g('load', 'daemon_cpu_us_per_cert'))} "
                  f"| {fmt(g('raw-pkcs11', 'baseline_throughput_per_s'))} "
                  f"| {fmt(g('raw-pkcs11', 'ratio'), 2)} "
                  f"| {fmt(g('raw-pkcs11-verify', 'baseline_throughput_per_s'))} "
                  f"| {fmt(g('raw-pkcs11-verify', 'ratio'), 2)} "
                  f"| {fmt(g('raw-pkcs11-verify', 'cpu_ratio'), 2)} |")
        print()
    sign = [r[1] for r in runs]
    if any(sign):
        print("| sign.digest key | clients×depth | n | sig/s | p50 / p99 ms "
              "| raw sign sig/s | ratio | raw sign+C_Verify sig/s | ratio |")
        print("|---|---|---|---|---|---|---|---|---|")
        for k in keys_of(sign):
            rs = [r[k] for r in sign if k in r]
            g = getter(rs)
            lat = " / ".join(fmt(g("load", f, 1e-3), 1) for f in ("p50_us", "p99_us"))
            print(f"| {k[0]} | {k[1]}×{k[2]} | {len(rs)} | {fmt(g('load', 'throughput_per_s'))} "
                  f"| {lat} | {fmt(g('raw-pkcs11', 'baseline_throughput_per_s'))} "
                  f"| {fmt(g('raw-pkcs11', 'ratio'), 2)} "
                  f"| {fmt(g('raw-pkcs11-verify', 'baseline_throughput_per_s'))} "
                  f"| {fmt(g('raw-pkcs11-verify', 'ratio'), 2)} |")
        print()
    crl = [r[2] for r in runs]
    if any(crl):
        print("| revoked | n | CRL bytes | list ms | begin ms | sign ms | finish ms | total ms "
              "| OpenSSL API ms | API + check ms | speed vs API + check | openssl ca ms "
              "| speed vs openssl ca (total) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for k in keys_of(crl):
            rs = [r[k] for r in crl if k in r]
            g = getter(rs)
            cols = [fmt(g("crl", f), 1) for f in
                    ("list_ms", "begin_ms", "sign_ms", "finish_ms", "total_ms",
                     "openssl_api_ms", "openssl_api_check_ms")]
            print(f"| {k:,} | {len(rs)} | {fmt(g('crl', 'crl_bytes'))} | " + " | ".join(cols) +
                  f" | {fmt(g('crl', 'speed_ratio_api_check'), 2)} "
                  f"| {fmt(g('crl', 'openssl_ca_ms'), 1)} | {fmt(g('crl', 'speed_ratio_ca'), 2)} |")
        print()
    growth = [r[3] for r in runs]
    if any(growth):
        print("| step | n | list | build (begin+sign+finish) | total | OpenSSL API | openssl ca |")
        print("|---|---|---|---|---|---|---|")
        for k in keys_of(growth):
            rs = [r[k] for r in growth if k in r]
            g = getter(rs)
            print(f"| {k} | {len(rs)} | " + " | ".join(
                fmt(g("growth", f), 2) for f in
                ("list_ratio", "build_ratio", "total_ratio", "openssl_api_ratio",
                 "openssl_ca_ratio")) + " |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
