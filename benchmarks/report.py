"""The results table (text), the JSON record and the PNG chart."""
import json
import math
import os

from .cases import IMPLS

__all__ = ["fmt_time", "summarize", "table", "summarize_scaling", "scaling_table", "write_json",
           "write_png"]

HEAD = {"cnnext": "cnnext", "numpy": "NumPy ref", "torch": "PyTorch", "keras": "Keras"}
PEERS = ("numpy", "torch", "keras")


def fmt_time(s):
    if s is None or not math.isfinite(s):
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.3g} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def summarize(case, results):
    """One case's JSON record: times scaled to the case's reported size, rates and the ratio to
    the fastest peer (>1: cnnext is faster)."""
    rec = {"group": case.group, "name": case.name, "shape": case.shape, "unit": case.unit,
           "work": case.work, "scale": case.scale, "peak_pct": case.peak_pct, "results": {}}
    if case.note:
        rec["note"] = case.note
    for impl in IMPLS:
        r = results.get(impl)
        if r is None:
            continue
        d = r.to_json()
        if r.status == "ok":
            d["min_s"], d["median_s"] = r.min_s * case.scale, r.median_s * case.scale
            d["rate"] = case.work / d["min_s"] / 1e9
        rec["results"][impl] = d
    ok = {k: v for k, v in rec["results"].items() if v["status"] == "ok"}
    peers = {k: v["min_s"] for k, v in ok.items() if k in PEERS}
    if peers:
        best = min(peers, key=peers.get)
        rec["fastest_peer"] = best
        if "cnnext" in ok:
            rec["ratio_to_fastest_peer"] = peers[best] / ok["cnnext"]["min_s"]
    return rec


def add_peak_share(rec, peak_gflops):
    """cnnext's rate as a percentage of the sgemm ceiling, for the cases that report it."""
    c = rec["results"].get("cnnext", {})
    if rec.get("peak_pct") and peak_gflops and c.get("status") == "ok":
        rec["pct_of_sgemm_peak"] = 100.0 * c["rate"] / peak_gflops


class _Notes:
    """Footnotes for n/a cells, numbered once per distinct reason."""

    def __init__(self):
        self.items = {}

    def ref(self, text):
        return self.items.setdefault(text, len(self.items) + 1)

    def lines(self):
        return [f"  [{i}] {t}" for t, i in self.items.items()]


def _cell(d, notes):
    if d is None:
        return "—"
    if d["status"] == "ok":
        return fmt_time(d["min_s"])
    kind = "not available" if d["status"] == "unavailable" else "failed"
    reason = d.get("reason", "")
    return f"n/a [{notes.ref(f'n/a ({kind}: {reason})')}]"


def _aligned(cols, rows, left):
    """(fmt, [header, rule]) for a text table whose first `left` columns are left-aligned and the
    rest right-aligned, each as wide as its widest cell."""
    widths = [max(len(str(r[j])) for r in rows + [cols]) for j in range(len(cols))]

    def fmt(r):
        return "  ".join(str(v).ljust(w) if j < left else str(v).rjust(w)
                         for j, (v, w) in enumerate(zip(r, widths))).rstrip()
    return fmt, [fmt(cols), fmt(["-" * w for w in widths])]


def table(records, peak):
    """The text table: one row per case, one footnote per distinct n/a reason."""
    notes = _Notes()
    cols = ["case", "shape"] + [HEAD[i] for i in IMPLS] + ["cnnext rate", "% sgemm", "vs fastest peer"]
    rows = []
    for rec in records:
        res = rec["results"]
        c = res.get("cnnext", {})
        rate = f"{c['rate']:.1f} {rec['unit']}" if c.get("status") == "ok" else "—"
        pct = f"{rec['pct_of_sgemm_peak']:.0f}%" if "pct_of_sgemm_peak" in rec else ""
        ratio = (f"{rec['ratio_to_fastest_peer']:.2f}x {HEAD[rec['fastest_peer']]}"
                 if "ratio_to_fastest_peer" in rec else "—")
        name = rec["name"] + (" *" if rec.get("note") else "")
        cells = [_cell(res.get(i), notes) for i in IMPLS]
        rows.append([name, rec["shape"]] + cells + [rate, pct, ratio])
    fmt, out = _aligned(cols, rows, left=2)
    group = None
    for rec, r in zip(records, rows):
        if group is not None and rec["group"] != group:
            out.append("")
        group = rec["group"]
        out.append(fmt(r))
    out.append("")
    out.append("Times: minimum over the timed runs (warm-up dropped; medians in the JSON). "
               "'vs fastest peer' = fastest peer's time / cnnext's time (>1: cnnext faster).")
    out.append("Rates count the nominal FLOPs (2 per multiply-add; the model: 3x its forward "
               "FLOPs per image trained), the minimum bytes read + written, or training steps.")
    if peak:
        th = f"{peak['threads']} thread{'s' if peak['threads'] != 1 else ''}"
        out.append(f"% sgemm = cnnext's rate / the best OpenBLAS sgemm {peak['n']}^3 rate in this run: "
                   f"{peak['gflops']:.1f} GFLOP/s at {th} (start {peak['gflops_start']:.1f}, end "
                   f"{peak.get('gflops_end', math.nan):.1f}"
                   + (f"; 1 thread {peak['gflops_1thread']:.1f}" if peak.get("gflops_1thread") else "")
                   + (f"; on the thread's CPU clock {peak['gflops_cpu_clock']:.1f}"
                      if peak.get("gflops_cpu_clock") else "")
                   + ").")
    for rec in records:
        if rec.get("note"):
            extra = [f"{HEAD[k]} {v['check'].split()[-1]}" for k, v in rec["results"].items()
                     if v.get("check", "").startswith("val acc")]
            out.append(f"  * {rec['name']}: {rec['note']}" + (f": {', '.join(extra)}" if extra else ""))
    out += notes.lines()
    return "\n".join(out)


def summarize_scaling(case, results, counts):
    """One case's record of a scaling run: per implementation and thread count the times (as in
    ``summarize``), the speedup over the first count, and cnnext's ratio to the fastest peer at
    each count. ``results`` is keyed "impl@threads"."""
    rec = {"group": case.group, "name": case.name, "shape": case.shape, "unit": case.unit,
           "work": case.work, "scale": case.scale, "threads": list(counts), "results": {},
           "speedup": {}, "fastest_peer": {}, "ratio_to_fastest_peer": {}}
    if case.note:
        rec["note"] = case.note
    for n in counts:
        one = summarize(case, {impl: results[f"{impl}@{n}"] for impl in IMPLS
                               if f"{impl}@{n}" in results})
        for impl, d in one["results"].items():
            rec["results"].setdefault(impl, {})[str(n)] = d
        if "ratio_to_fastest_peer" in one:
            rec["fastest_peer"][str(n)] = one["fastest_peer"]
            rec["ratio_to_fastest_peer"][str(n)] = one["ratio_to_fastest_peer"]
    base = str(counts[0])
    for impl, per in rec["results"].items():
        if per.get(base, {}).get("status") == "ok":
            rec["speedup"][impl] = {n: per[base]["min_s"] / d["min_s"] for n, d in per.items()
                                    if d["status"] == "ok"}
    return rec


def scaling_table(records, counts):
    """The text table of a scaling run: one row per case and implementation, a column per thread
    count (time, and the speedup over the first count), then cnnext's ratio to the fastest peer."""
    notes = _Notes()
    plural = lambda n: f"{n} thread{'s' if n != 1 else ''}"  # noqa: E731
    cols = ["case", "shape", "impl"] + [plural(n) for n in counts]
    rows, groups = [], []
    for rec in records:
        first = True
        for impl in IMPLS:
            per = rec["results"].get(impl)
            if not per:
                continue
            cells = []
            for n in counts:
                d = per.get(str(n))
                cell = _cell(d, notes)
                sp = rec["speedup"].get(impl, {}).get(str(n))
                if n != counts[0] and sp is not None:
                    cell += f" {sp:4.2f}x"
                cells.append(cell)
            if all(c.startswith("n/a") for c in cells) and len(set(cells)) == 1:
                cells = [cells[0]] + [""] * (len(cells) - 1)
            name = rec["name"] + (" *" if rec.get("note") else "")
            rows.append([name if first else "", rec["shape"] if first else "", HEAD[impl]] + cells)
            groups.append(rec)
            first = False
        if rec["ratio_to_fastest_peer"]:
            rows.append(["", "", "vs fastest"] + [
                f"{rec['ratio_to_fastest_peer'][str(n)]:.2f}x {HEAD[rec['fastest_peer'][str(n)]]}"
                if str(n) in rec["ratio_to_fastest_peer"] else "—" for n in counts])
            groups.append(rec)
    fmt, out = _aligned(cols, rows, left=3)
    prev = None
    for rec, r in zip(groups, rows):
        if prev is not None and rec is not prev:
            out.append("")
        prev = rec
        out.append(fmt(r))
    out.append("")
    out.append(f"Times: minimum over the timed runs; 'N.NNx' = speedup over {plural(counts[0])} "
               "(same implementation). All thread counts take turns in one run, each turn pinned "
               "to its count first.")
    out.append("'vs fastest' = the fastest peer's time / cnnext's time at that thread count.")
    for rec in records:
        if rec.get("note"):
            out.append(f"  * {rec['name']}: {rec['note']}")
    out += notes.lines()
    return "\n".join(out)


def write_json(path, doc):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=float)
        f.write("\n")


def write_png(path, records, title):
    """Bar chart of speed relative to the fastest peer (log scale). Returns a reason if not drawn."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed"
    rows = [r for r in records if "fastest_peer" in r]
    if not rows:
        return "no case has a peer result"
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    height = 0.8 / len(IMPLS)
    colors = {"cnnext": "tab:red", "numpy": "tab:gray", "torch": "tab:orange", "keras": "tab:blue"}
    for j, impl in enumerate(IMPLS):
        ys, xs = [], []
        for i, r in enumerate(rows):
            d = r["results"].get(impl, {})
            if d.get("status") == "ok":
                best = r["results"][r["fastest_peer"]]["min_s"]
                ys.append(i + (j - (len(IMPLS) - 1) / 2) * height)
                xs.append(best / d["min_s"])
        ax.barh(ys, xs, height=height, color=colors[impl], label=HEAD[impl])
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r['name']}  {r['shape']}" for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("speed relative to the fastest peer (higher is better)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
