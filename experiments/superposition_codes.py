"""Superposition codes: dimensions per bit of cheap iterative decoders vs the top-k read-out (issue 15 item 6).

m*_0.5 with its 95 % interval (``csbench.minimal_m``, exact recovery) of binary
k-sparse x on the +-1 ensemble (encoder ``rademacher``: iid +-1/sqrt(m) entries),
expressed in dimensions per bit, ``m* / log2 C(N, k)`` (the message is which k of
the N atoms are on: log2 C(N, k) bits). Decoders: the matched filter (rule
threshold, 1[a_j^T y >= 1/2]; rule topk, the k largest a_j^T y: a TopK sparse
autoencoder's encoder with the true dictionary), binary matching pursuit (k unit
steps), matching-k (s = 2, 4 steps of ceil(k/s) atoms; s = 1 is the top-k
read-out and is run too, as a consistency check), OMP, the lasso and the positive
lasso (study defaults), Bayes AMP (``amp``, ``denoiser="bayes_binary"``) and VAMP
with its Bayes-binary denoiser.

The claim under test (the superposition-code paper by seed 003's author): cheap
iterative decoders store about 3/4 bit per dimension (~1.33 dimensions per bit)
where the top-k read-out needs more than 4 dimensions per bit.

Memory: every decoder but VAMP has a matrix-free operator path (the counter-based
generator regenerates the same entries), used when the dense matrices of a batch
exceed ``--memory-budget``; binary matching pursuit and matching-k always run on it, where
the +-1 columns are regenerated bit-packed and scores are updated by popcounts (``PACKED``).
VAMP needs the dense A and its SVD (A, a working copy
and V^T: about 3 x 8 m N bytes for one trial); where that exceeds ``--memory-cap``
(default 4 GiB, the study's budget) at the search's first m, the point is refused and
the JSON says so, with the memory it would need; it is never silently dropped.

    python experiments/superposition_codes.py --n 65536 --k 1 2 4 8 16 32 64 --trials 20
    python experiments/superposition_codes.py --n 1048576 --k 1 2 4 8 16 32 --trials 20
    python experiments/superposition_codes.py --quick          # N = 512, k = 2, 4; a few seconds

Writes ``superposition_codes_<N>.json`` (rows, run wall time, peak RSS, argv) and
``superposition_codes_<N>.png`` to results/superposition_codes/ (``--update-data``:
data/superposition_codes/); the JSON is rewritten after every point, so a killed run
keeps its points. Peak RSS is the largest maximum resident set of this process or of
a finished worker (``resource.getrusage``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time

from csbench._scriptio import add_output_args, extra_paths, output_dir, save_figure, write_json, write_text, wrote

WALL_TIME = ("Time (2 cores; docs/minimal_m.md): --quick ~10 s. N = 2^16, 20 trials, k = 1-64: the matched filter "
             "(both rules) and binary MP / matching-k (bit-packed) took 326 s of CPU (~165 s idle, within the issue's "
             "15 min); the lasso 551 s, the positive lasso 434 s and OMP 1089 s of CPU at k = 32 and 64 alone; OMP, Bayes AMP (its "
             "failing evaluations run to max_iter: > 440 s at k = 32 alone) and VAMP (2-16 s per evaluation at "
             "k = 8-16) do not fit 15 min with them. N = 2^20: binary MP and the top-k read-out (matching-k s=1) fit "
             "60 min; OMP/lasso/AMP (~2500 s of CPU per point) and VAMP do not. --start-from JSON saves evaluations "
             "(not always CPU: failures below the transition cost the most for the lasso and AMP).")

#: (label, decoder, params, steps-like parameter capped at k or None)
DECODERS = [
    ("matched filter (threshold)", "matched_filter", {"rule": "threshold"}),
    ("matched filter (top-k)", "matched_filter", {"rule": "topk"}),
    ("matching-k s=1", "matching_k", {"steps": 1}),
    ("binary matching pursuit", "matching_pursuit", {"binary": True}),
    ("matching-k s=2", "matching_k", {"steps": 2}),
    ("matching-k s=4", "matching_k", {"steps": 4}),
    ("OMP", "omp", {}),
    ("lasso", "lasso", {}),
    ("positive lasso", "lasso", {"positive": True}),
    ("Bayes AMP", "amp", {"denoiser": "bayes_binary"}),
    ("VAMP (Bayes binary)", "vamp", {"denoiser": "bayes_binary"}),
    # Undamped Bayes-binary VAMP stalls on i.i.d. matrices above k/m ~ 0.2 (docs/decoders.md, "Known failure");
    # damping the message does not move its fixed points and removes that failure: VAMP at its best setting.
    ("VAMP (Bayes binary, damping 0.5)", "vamp", {"denoiser": "bayes_binary", "damping": 0.5}),
]
LABELS = [d[0] for d in DECODERS]
#: Decoders run matrix-free at every m: on the ``rademacher`` operator, binary matching pursuit and matching-k
#: regenerate the +-1 columns bit-packed (m N / 8 bytes) and update every score by popcounts
#: (``csbench.kernels.greedy.matching_k_packed``): the dense path's integer scores and selections, ~50x less CPU
#: at N = 2^16, k = 64 (0.05 s against 2.4 s per binary-MP evaluation at m = 717, measured 2026-12-05).
PACKED = {"matching_k", "matching_pursuit"}
#: Dense copies of one trial's m x N matrix VAMP holds at once (A, the working copy, V^T of the SVD).
VAMP_DENSE_COPIES = 3


def cpu_seconds():
    """User + system CPU seconds of this process and its finished children (the workers of a finished pool)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_bytes():
    """Largest peak resident set of this process or any finished child (``ru_maxrss`` is a max), bytes."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return 1024 * max(own, kids)


def refusal(name, n, k, cap):
    """Why (decoder, N, k) cannot run within ``cap`` bytes, or "" when it can.

    A decoder without an operator path needs the dense A; VAMP also its SVD. The m
    used is the search's first m (``theory.m_weak``), a lower bound on what it probes.
    """
    from csbench import theory
    from csbench.decoders.base import DECODERS as REG

    m0 = math.ceil(float(theory.m_weak(n, k)))
    copies = VAMP_DENSE_COPIES if name == "vamp" else 1
    if REG.get(name).operator is not None:
        return ""
    need = copies * 8 * m0 * n
    if need <= cap:
        return ""
    what = "the dense A, its working copy and the SVD's V^T" if name == "vamp" else "the dense A"
    return (f"refused: {name} has no matrix-free path and needs {what}: {copies} x 8 m N bytes = "
            f"{need / 2**30:.1f} GiB for one trial at the search's first m = {m0} (N = {n}), above the "
            f"{cap / 2**30:.1f} GiB cap")


def scaled_start(label, n, k, known):
    """The search's first m scaled from the same decoder's m* at the largest measured k' < k, or None.

    ``m_start = ceil(m*(k') log2 C(N, k) / log2 C(N, k'))``: the dimensions per bit of the ℓ1, OMP and AMP
    rows change by a few per cent per doubling of k, so this lands within a galloping step of most trials'
    transitions, where the default start m_W(N, k) is up to 25 % away (Bayes AMP at k = 16: m* 139, m_W 187).
    The start changes only which m the search probes: a trial whose success is monotone in m has the same
    critical m from any start (``csbench.minimal_m``, ``m_start``); a non-monotone trial may report another
    of its transitions. ``known`` maps (label, k) to finite m*.
    """
    from csbench import theory

    below = [kk for (lab, kk) in known if lab == label and kk < k]
    if not below:
        return None
    k0 = max(below)
    return math.ceil(known[label, k0] * float(theory.log2_binom(n, k)) / float(theory.log2_binom(n, k0)))


def point(label, name, params, a, k, m_start=None):
    """One (decoder, k) point: m*_0.5 with interval in measurements and in dimensions per bit.

    ``m_start``: the search's first m (default ``theory.m_weak(N, k)``; see :func:`scaled_start`).
    """
    import csbench
    from csbench import theory

    bits = float(theory.log2_binom(a.n, k))
    row = {"label": label, "decoder": name, "params": dict(params), "n": a.n, "k": k, "trials": a.trials,
           "log2C": bits, "m_start": m_start if m_start is not None else math.ceil(float(theory.m_weak(a.n, k))),
           "m_start_rule": "scaled from a smaller k" if m_start is not None else "m_W(N, k)"}
    why = refusal(name, a.n, k, a.memory_cap_bytes)
    if why:
        return {**row, "refused": why}
    p = dict(params)
    if name == "matching_k" and p["steps"] > k:
        p["steps"] = k  # s >= k is binary matching pursuit
        row["params"] = p
    budget = a.memory_budget
    if name in PACKED:  # every evaluation on operators: the +-1 columns bit-packed, no dense A (same results)
        # the search's vectors of a block of 10 trials (32 N bytes each, plus 8 m_max = 8 N shared) fit; any dense
        # batch at m >= 14 (8 N (2 m + master rows) >= 24 N m bytes) does not, so it goes matrix-free
        budget = (8 + 10 * 32) * a.n
        row["memory_budget"] = f"{budget} (matrix-free from m = 14: bit-packed +-1 columns)"
    t0, c0, load0 = time.perf_counter(), cpu_seconds(), os.getloadavg()[0]
    r = csbench.minimal_m(name, encoder="rademacher", signal="binary", n=a.n, k=k, trials=a.trials, seed=a.seed,
                          m_start=m_start, n_jobs=a.jobs, executor=a.executor, memory_budget=budget,
                          progress=a.progress, decoder_params=p)
    row.update({"params": dict(r.params), "method": r.method, "m_star": float(r.m_star),
                "ci_low": float(r.ci_low), "ci_high": float(r.ci_high), "coverage": float(r.coverage),
                "m_star_monotone": float(r.m_star_monotone), "critical": [float(c) for c in r.critical],
                "n_censored": int(r.n_censored), "n_nonmonotone": int(r.n_nonmonotone), "m_max": int(r.m_max),
                "status_counts": {str(s): int(c) for s, c in r.status_counts.items()},
                "dims_per_bit": float(r.m_star) / bits, "dims_per_bit_low": float(r.ci_low) / bits,
                "dims_per_bit_high": float(r.ci_high) / bits,
                "n_evaluations": int(r.n_evaluations), "time_s": round(time.perf_counter() - t0, 2),
                "cpu_s": round(cpu_seconds() - c0, 2), "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
                "peak_rss_gib": peak_rss_bytes() / 2**30})
    if r.censored_reason:
        row["censored_reason"] = r.censored_reason
    return row


def summary_line(row):
    if "refused" in row:
        return f"{row['label']:<28} k={row['k']:<3} {row['refused']}"
    return (f"{row['label']:<28} k={row['k']:<3} m*={row['m_star']:.0f} [{row['ci_low']:.0f}, {row['ci_high']:.0f}]"
            f"  {row['dims_per_bit']:.2f} dims/bit [{row['dims_per_bit_low']:.2f}, {row['dims_per_bit_high']:.2f}]"
            f"  {row['time_s']:.1f} s wall, {row['cpu_s']:.1f} s CPU, {row['n_evaluations']} evaluations, "
            f"load {row['load'][0]:.1f}-{row['load'][1]:.1f}, peak {row['peak_rss_gib']:.2f} GiB")


def figure(doc, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for i, label in enumerate(dict.fromkeys(r["label"] for r in doc["rows"])):
        rs = [r for r in doc["rows"] if r["label"] == label and "refused" not in r and math.isfinite(r["m_star"])]
        if not rs:
            continue
        k = np.array([r["k"] for r in rs], float) * (1 + 0.02 * (i - 5))  # small offsets so bars do not overlap
        y = np.array([r["dims_per_bit"] for r in rs])
        lo = np.array([r["dims_per_bit_low"] for r in rs])
        hi = np.array([r["dims_per_bit_high"] for r in rs])
        hi = np.where(np.isfinite(hi), hi, y)
        ax.errorbar(k, y, yerr=[y - lo, hi - y], marker="o", ms=3, capsize=2, lw=1, label=label,
                    color=plt.cm.tab20(LABELS.index(label) % 20 if label in LABELS else i))  # 11 labels: tab10 repeats
    ax.axhline(4 / 3, color="gray", ls="--", lw=1, label="3/4 bit per dimension")
    ax.axhline(4.0, color="gray", ls=":", lw=1, label="4 dimensions per bit")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("k (active atoms)")
    ax.set_ylabel("m*_0.5 / log2 C(N, k)  (dimensions per bit)")
    fewer = sorted({r["trials"] for r in doc["rows"]} - {doc["trials"]})
    ax.set_title(f"binary x, +-1 dictionary, N = {doc['n']}, {doc['trials']} trials per point"
                 + (f" ({', '.join(map(str, fewer))} at some points: see the table)" if fewer else ""), fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    return save_figure(fig, path)


def markdown(doc):
    """The table of a run: one row per decoder, one column per k; m*_0.5 [95 % CI] and dimensions per bit."""
    ks = sorted({r["k"] for r in doc["rows"]})
    rows = {(r["label"], r["k"]): r for r in doc["rows"]}
    labels = [lab for lab in LABELS if any((lab, k) in rows for k in ks)]
    lines = ["| decoder | " + " | ".join(f"k = {k}" for k in ks) + " |", "|---|" + "---|" * len(ks),
             "| log2 C(N, k) bits | " + " | ".join(
                 f"{next(r['log2C'] for r in doc['rows'] if r['k'] == k):.1f}" for k in ks) + " |"]
    for lab in labels:
        cells = []
        for k in ks:
            r = rows.get((lab, k))
            if r is None:
                cells.append("not run")
            elif "refused" in r:
                cells.append("refused (memory)")
            elif not math.isfinite(r["m_star"]):
                cells.append(f"censored ({r['n_censored']}/{r['trials']})")
            else:
                c = f"{r['m_star']:.0f} [{r['ci_low']:.0f}, {r['ci_high']:.0f}]: **{r['dims_per_bit']:.2f}**"
                if r.get("method") == "exact-mf" and r["m_star_monotone"] != r["m_star"]:
                    c += f" (monotone m* {r['m_star_monotone']:.0f})"
                if r["trials"] != doc["trials"]:
                    c += f" ({r['trials']} trials)"
                cells.append(c)
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def combine(a, out, extra):
    """``--combine``: one JSON (and figure) from the JSONs of several runs of the same (N, seed).

    A later file wins a (decoder, k). Runs may differ in their trial count: each row keeps its own
    ``trials``, the document's ``trials`` is the largest, and the table marks the other rows.
    """
    from pathlib import Path

    parts = [json.loads(Path(f).read_text()) for f in a.combine]
    keys = {(d["n"], d["seed"]) for d in parts}
    if len(keys) != 1:
        raise SystemExit(f"error: --combine needs JSONs of one (N, seed); got {sorted(keys)}")
    rows = {}
    for d in parts:
        for r in d["rows"]:
            rows[r["label"], r["k"]] = r
    order = {lab: i for i, lab in enumerate(LABELS)}
    doc = {key: parts[0][key] for key in ("n", "encoder", "signal", "q", "criterion", "seed", "memory_cap")}
    doc["trials"] = max(r["trials"] for r in rows.values())
    doc["parts"] = []
    for d in parts:  # a combined JSON contributes its own parts
        doc["parts"] += d["parts"] if "parts" in d else [{
            "argv": d["argv"], "argv_merged": d.get("argv_merged", []), "jobs": d["jobs"], "trials": d["trials"],
            "memory_budget": d["memory_budget"], "wall_s": d["wall_s"] + d.get("wall_s_merged", 0.0),
            "peak_rss_gib": max(d["peak_rss_gib"], d.get("peak_rss_gib_merged", 0.0))}]
    doc["wall_s"] = round(sum(p["wall_s"] for p in doc["parts"]), 2)  # CPU-side sum: the parts may overlap in time
    doc["peak_rss_gib"] = max(p["peak_rss_gib"] for p in doc["parts"])
    doc["cpu_s_rows"] = round(sum(r.get("cpu_s", 0.0) for r in rows.values()), 1)  # rows that measured it
    doc["argv"] = ["--combine", *a.combine]
    doc["rows"] = sorted(rows.values(), key=lambda r: (r["k"], order.get(r["label"], 99)))
    base = out / f"superposition_codes_{doc['n']}"
    written = [write_json(base.with_suffix(".json"), doc), *[write_json(p, doc) for p in extra]]
    written.append(write_text(base.with_suffix(".md"), markdown(doc)))
    written.append(figure(doc, base.with_suffix(".png")))
    print(wrote(written))
    return doc


def parse_bytes(s):
    from csbench.problems import memory_budget

    return int(memory_budget(s))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=WALL_TIME)
    p.add_argument("--n", type=int, default=2**16, help="dictionary size N (default 2^16)")
    p.add_argument("--k", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--decoders", nargs="+", default=LABELS, choices=LABELS, metavar="LABEL",
                   help="decoder labels (default all): " + "; ".join(LABELS))
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--executor", default="processes", choices=["processes", "threads"])
    p.add_argument("--memory-budget", default="1GiB",
                   help="dense matrices of one decode batch above this go matrix-free (default 1GiB)")
    p.add_argument("--memory-cap", default="4GiB",
                   help="a decoder without a matrix-free path is refused where its dense matrices exceed this")
    p.add_argument("--json", default=None, help="also write the JSON here")
    p.add_argument("--merge", action="store_true",
                   help="keep the rows of the existing superposition_codes_<N>.json in the output directory "
                        "whose (decoder, k) this run does not compute (to add decoders or resume a killed run)")
    p.add_argument("--combine", nargs="+", default=None, metavar="JSON",
                   help="join the rows of these JSONs of one (N, trials, seed) (runs of disjoint decoders, "
                        "e.g. run side by side; a later file wins a (decoder, k)) and write the JSON and figure; "
                        "no decoding")
    p.add_argument("--start-from", nargs="+", default=None, metavar="JSON",
                   help="start each search at the same decoder's m* at the largest smaller k (from these JSONs or "
                        "this run), scaled by the bits (fewer evaluations; default: start at m_W(N, k)); the "
                        "critical m of a monotone trial does not depend on the start")
    p.add_argument("--quick", action="store_true", help="N = 512, k = 2 4, 6 trials (the test suite's run)")
    p.add_argument("--progress", action="store_true", help="also a progress bar over the trials of each point")
    add_output_args(p, "superposition_codes")
    a = p.parse_args(argv)
    if a.quick:
        a.n, a.k, a.trials = 512, [2, 4], 6
    for name, v, low in (("--n", a.n, 2), ("--trials", a.trials, 1), ("--jobs", a.jobs, 1)):
        if v < low:
            raise SystemExit(f"error: {name}={v} must be >= {low}")
    for k in a.k:
        if not 1 <= k < a.n:
            raise SystemExit(f"error: --k {k} must lie in [1, N - 1] = [1, {a.n - 1}]")
    a.memory_cap_bytes = parse_bytes(a.memory_cap)
    out = output_dir(a, __file__)
    extra = extra_paths(a, __file__, a.json)
    if a.combine:
        return combine(a, out, extra)
    base = out / f"superposition_codes_{a.n}"
    from tqdm import tqdm

    # k outer: a run stopped early has every decoder at the small k
    todo = [(lab, name, prm, k) for k in a.k for lab, name, prm in DECODERS if lab in a.decoders]
    doc = {"n": a.n, "encoder": "rademacher", "signal": "binary", "q": 0.5, "criterion": "exact",
           "trials": a.trials, "seed": a.seed, "memory_budget": a.memory_budget, "memory_cap": a.memory_cap,
           "jobs": a.jobs, "argv": sys.argv[1:] if argv is None else list(argv), "rows": []}
    kept = []
    if a.merge and base.with_suffix(".json").exists():
        old = json.loads(base.with_suffix(".json").read_text())
        if (old["n"], old["trials"], old["seed"]) != (a.n, a.trials, a.seed):
            raise SystemExit(f"error: --merge needs the same --n, --trials, --seed as {base}.json "
                             f"(N={old['n']}, trials={old['trials']}, seed={old['seed']})")
        mine = {(lab, k) for lab, _, _, k in todo}
        kept = [r for r in old["rows"] if (r["label"], r["k"]) not in mine]
        doc["argv_merged"] = old.get("argv_merged", []) + [old["argv"]]
        doc["wall_s_merged"] = old.get("wall_s_merged", 0.0) + old.get("wall_s", 0.0)
        doc["peak_rss_gib_merged"] = max(old.get("peak_rss_gib_merged", 0.0), old.get("peak_rss_gib", 0.0))
    doc["rows"] = kept
    known = {}  # (label, k) -> finite m*, for --start-from: the given JSONs, then this run's rows
    if a.start_from is not None:
        from pathlib import Path

        for f in a.start_from:
            d = json.loads(Path(f).read_text())
            if (d["n"], d["seed"]) != (a.n, a.seed):
                raise SystemExit(f"error: --start-from {f} has N={d['n']}, seed={d['seed']}; this run N={a.n}, "
                                 f"seed={a.seed}")
            known.update({(r["label"], r["k"]): r["m_star"] for r in d["rows"]
                          if "refused" not in r and math.isfinite(r["m_star"])})
    t_start, c_start = time.perf_counter(), cpu_seconds()
    for lab, name, prm, k in tqdm(todo, desc=f"N={a.n} (decoder, k) points", unit="point", disable=a.quick):
        start = scaled_start(lab, a.n, k, known) if a.start_from is not None else None
        row = point(lab, name, prm, a, k, start)
        if "refused" not in row and math.isfinite(row["m_star"]):
            known[lab, k] = row["m_star"]
        doc["rows"].append(row)
        tqdm.write(summary_line(row))
        doc["wall_s"] = round(time.perf_counter() - t_start, 2)
        doc["cpu_s"] = round(cpu_seconds() - c_start, 2)
        doc["peak_rss_gib"] = peak_rss_bytes() / 2**30
        write_json(base.with_suffix(".json"), doc)
    for path in extra:
        write_json(path, doc)
    written = [base.with_suffix(".json"), *extra]
    if not a.quick:
        written.append(write_text(base.with_suffix(".md"), markdown(doc)))
        written.append(figure(doc, base.with_suffix(".png")))
    print(f"N={a.n}: wall {doc['wall_s']:.1f} s, peak memory {doc['peak_rss_gib']:.2f} GiB "
          f"(largest single process)")
    print(wrote(written))
    return doc


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
