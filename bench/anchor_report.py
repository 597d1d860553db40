"""The anchor's figures (bench/results/anchor.json) as the README's tables.

    python -m bench.anchor_report            # print the Markdown
    python -m bench.anchor_report --readme   # replace it in README.md, between the anchor markers
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from .env import ROOT

START = "<!-- anchor: written by python -m bench.anchor_report --readme -->"
END = "<!-- /anchor -->"


def _trio(d: dict, unit: str = "") -> str:
    return " / ".join(f"{d[k]:g}{unit}" for k in ("p50", "p95", "p99"))


def _rtrio(d: dict) -> str:
    return " / ".join(f"{d[k]:g}x" if d.get(k) is not None else "-" for k in ("p50", "p95", "p99"))


def markdown(r: dict) -> str:
    """The anchor result ``r`` (``bench.anchor.run``) as Markdown: the latency table by query kind,
    the other figures, and issue 18's targets against what was measured."""
    o, t, ratio, agree = r["ours"], r["tantivy"], r["ratio_ours_over_tantivy"], r["agreement"]
    scope = f"the first {r['slice'] // 2} articles of each news file" if r.get("slice") else \
        f"the full corpora ({o['documents']:,} articles)"
    lines = [
        f"Measured {r['date'][:10]} at commit `{r['commit']}` on {scope}, {r['cpus']} cores shared with other "
        f"work (load average {r['load_average'][0]} before the passes, {r['load_average'][1]} after: wall times "
        f"include waiting for a core, CPU times do not); ours on {o['segments']} segment{'' if o['segments'] == 1 else 's'}, tantivy "
        f"{r['tantivy_version']} on {t['segments']}; each figure "
        f"the median of {r['runs']} fresh processes per engine, run interleaved (milliseconds per query: "
        "p50 / p95 / p99; \"same totals\": queries where both count the same articles).",
        "",
        "| cold, by query kind | ours | tantivy | ours / tantivy | ours / tantivy in CPU time | same totals "
        "| tantivy's query |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| all {sum(a['queries'] for a in agree.values())} distinct queries | {_trio(o['cold'])} | "
        f"{_trio(t['cold'])} | {_rtrio(ratio['cold'])} | {_rtrio(ratio['cold_cpu'])} | "
        f"{sum(a['same_total'] for a in agree.values())} | |",
    ]
    for kind, v in o["cold_by_kind"].items():
        a = agree.get(kind, {"same_total": 0, "queries": 0})
        lines.append(f"| {kind} | {_trio(v)} | {_trio(t['cold_by_kind'][kind])} | "
                     f"{_rtrio(ratio['cold_by_kind'][kind])} | {_rtrio(ratio['cold_cpu_by_kind'][kind])} | "
                     f"{a['same_total']} of {a['queries']} | "
                     f"{r['kind_notes'].get(kind, '')} |")
    lines += [
        f"| all distinct queries, CPU milliseconds (not waiting for a core) | {_trio(o['cold_cpu'])} | "
        f"{_trio(t['cold_cpu'])} | {_rtrio(ratio['cold_cpu'])} | | | |",
        f"| warm, no result cache (whole mix) | {_trio(o['warm'])} | {_trio(t['warm'])} | {_rtrio(ratio['warm'])} "
        "| | | |",
        f"| related articles, cold (200 articles) | {_trio(o['related_cold'])} | {_trio(t['related_cold'])} | "
        f"{_rtrio(ratio['related_cold'])} | | | more-like-this on the stored words |",
        "",
    ]
    im, ti, ob = r["index_mb"], r["indexing"]["tantivy"], r["indexing"].get("ours")
    lines += [
        "| | ours | tantivy |",
        "| --- | --- | --- |",
        f"| CPU seconds of the cold pass | {o['cold_cpu_seconds']} | {t['cold_cpu_seconds']} |",
        f"| process memory after the passes, PSS (RSS) | {o['pss_mb']} MB ({o['rss_mb']} MB) | "
        f"{t['pss_mb']} MB ({t['rss_mb']} MB) |",
        f"| index size on disk | {im['ours']:,} MB | {im['tantivy']:,} MB |",
    ]
    if ti.get("tantivy"):
        n = ti["articles"]
        ours_idx = (f"{ob['seconds']} s, peak {ob['peak_rss_mb']} MB ({ob['from']})" if ob
                    else "not measured in this run")
        lines.append(f"| indexing (wall; CPU) | {ours_idx} | {ti['tantivy']['seconds']} s; "
                     f"{ti['tantivy']['cpu_seconds']} s CPU ({round(n / ti['tantivy']['seconds']):,} articles/s, "
                     f"peak {ti['tantivy']['peak_rss_mb']} MB), after our analysis (jieba, 2 processes) "
                     f"{ti['analysis']['seconds']} s; {ti['analysis']['cpu_seconds']} s CPU |")
    if r.get("stock"):
        s = r["stock"]
        lines.append(f"| stock whoosh 2.7.4 + jieba, for the record ({s['date'][:10]}, {s['cold']['n']} of the "
                     f"distinct queries, {s['timeouts']} over 10 s) | ours then {_trio(s['ours_same_sample'])} | "
                     f"stock {_trio(s['cold'])} |")
    lines += ["", "Tantivy cannot express: " + "; ".join(r["tantivy_cannot"]) + ".", "",
              "| issue 18's target | ours, measured | reached |", "| --- | --- | --- |"]
    lines += [f"| {x['target']} | {x['measured']} | {'yes' if x['reached'] else '**no**'} |" for x in r["targets"]]
    return "\n".join(lines) + "\n"


def update_readme(r: dict, path: str = os.path.join(ROOT, "README.md")) -> None:
    """Replace the Markdown between ``START`` and ``END`` in ``path``; raises ValueError without them."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path} has no anchor markers ({START} ... {END})")
    text = pattern.sub(lambda _: f"{START}\n{markdown(r)}{END}", text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--result", default=os.path.join(ROOT, "bench", "results", "anchor.json"))
    ap.add_argument("--readme", action="store_true", help="write the tables into README.md")
    args = ap.parse_args(argv)
    with open(args.result, encoding="utf-8") as f:
        r = json.load(f)
    if args.readme:
        update_readme(r)
    else:
        sys.stdout.write(markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
