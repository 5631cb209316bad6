"""How each engine's TPC-H time and memory grow from one scale factor to another, from two of
bench.py's result files:

    python bench/growth.py bench/results/sf1.json bench/results/sf10-tpch.json > bench/results/growth.md

Per engine and table set: the total of the queries both runs answered, and the largest peak
memory; then query by query, the time and memory ratios (larger / smaller scale).
"""
import json
import sys

ENGINES = ["lakeshell", "duckdb", "polars", "delta-rs"]


def load(path):
    with open(path) as f:
        return json.load(f)["tpch"]


def main():
    small_path, large_path = sys.argv[1], sys.argv[2]
    small, large = load(small_path), load(large_path)
    out = ["# TPC-H growth: %s -> %s" % (small_path.split("/")[-1], large_path.split("/")[-1]), "",
           "Time and peak memory of each engine at both scales, and their ratios. Only queries an engine",
           "answered at both scales count in its totals; a query it did not finish at the larger scale is",
           "named. The larger run's settings (runs, lakeshell's memory limit) are in its own report.", ""]
    for written_by in ["lakeshell", "delta-rs"]:
        out += ["## Tables written by %s" % written_by, "",
                "| engine | total, small | total, large | time ratio | peak memory, small | peak memory, large | memory ratio | not finished at the larger scale |",
                "|---|---|---|---|---|---|---|---|"]
        per_query = []
        for e in ENGINES:
            ts, tl, ms, ml, missing = 0.0, 0.0, 0.0, 0.0, []
            for key in sorted(large):
                if not key.startswith(written_by + "/"):
                    continue
                a, b = (small.get(key) or {}).get(e) or {}, (large.get(key) or {}).get(e) or {}
                if a.get("ok") and b.get("ok"):
                    ts += a["best"]
                    tl += b["best"]
                    ms = max(ms, a["rss_mib"])
                    ml = max(ml, b["rss_mib"])
                    per_query.append((key.split("/")[1], e, b["best"] / a["best"], b["rss_mib"] / a["rss_mib"]))
                elif a.get("ok"):
                    missing.append("%s (%s)" % (key.split("/")[1], (b.get("error") or "failed")[:60]))
            if ts:
                out.append("| %s | %.2f s | %.2f s | %.1f | %.0f MiB | %.0f MiB | %.1f | %s |" % (
                    e, ts, tl, tl / ts, ms, ml, ml / ms, ", ".join(missing) or "none"))
        out += ["", "| query | " + " | ".join("%s time, memory" % e for e in ENGINES) + " |",
                "|---" * (len(ENGINES) + 1) + "|"]
        for q in sorted({q for q, _, _, _ in per_query}):
            cells = []
            for e in ENGINES:
                r = [(t, m) for qq, ee, t, m in per_query if qq == q and ee == e]
                cells.append("%.1fx, %.1fx" % r[0] if r else "n/a")
            out.append("| %s | %s |" % (q, " | ".join(cells)))
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
