"""Campaign scale: the full crashcheck campaign (every model) against one bare
run of the same subject, measured side by side in one run, as the payload and
the number of writes grow. Wall time and peak RSS (of crashcheck and all it
waited for) are reported as ratios to the bare run measured just before, so
a shared, noisy machine moves both alike.

Usage: campaign_scale.py CRASHCHECK PYTHON OUT_DIR [--quick] [--fork]
Writes OUT_DIR/campaign_scale.json, OUT_DIR/campaign_scale.md (the growth
table) and OUT_DIR/campaign_scale.svg (the plot); exits 1 when a target of
bench/README.md is missed. --quick: the two small configurations only.
--fork: crashcheck forks its kill, errno and disk-full cases (its --fork)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WRITER = os.path.join(HERE, "writers", "chunked_writer.py")
MIB = 1 << 20

# (name, payload bytes, chunk bytes): the four sizes, then the growth in writes.
SIZES = [("2.8 KiB", 2867, 4096), ("1 MiB / 4 KiB writes", MIB, 4096),
         ("20 MiB", 20 * MIB, MIB), ("200 MiB", 200 * MIB, 8 * MIB)]
GROWTH = [(f"{n} writes", n * 4096, 4096) for n in (10, 100, 1000, 10000)]
# The memory bound holds for any set of models: the opt-in concurrent model (two instances at once) too.
ALL_MODELS = ["--models", "kill,errno,disk-full,reader,power-loss,concurrent"]
WITH_CONCURRENT = [("20 MiB, every model with concurrent", 20 * MIB, MIB, ALL_MODELS)]


def measure(argv, cwd, env=None):
    """Wall seconds and peak RSS (MiB) of one command and everything it waited for."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a full pipe would stall the run
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        err.seek(0)
        text = err.read().decode(errors="replace")
    return wall, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status), text


def one(crashcheck, python, work, name, size, chunk, extra=(), env=None, jobs=2):
    payload, old = os.path.join(work, "new.bin"), os.path.join(work, "old.bin")
    with open(payload, "wb") as f:  # in 1 MiB pieces: a forked child's peak RSS counts this process's
        for at in range(0, size, MIB):
            f.write(os.urandom(min(MIB, size - at)))
    with open(old, "wb") as f:
        f.write(b"old\n")
    target = os.path.join(work, "target.bin")
    shutil.copyfile(old, target)
    bare_s, bare_rss, code, err = measure([python, WRITER, target, payload, str(chunk)], work)
    if code != 0:
        raise SystemExit(f"bare run of {name} failed: {err}")
    out = os.path.join(work, "out")
    argv = [crashcheck, "check", "--old", old, "--payload", payload, "-j", str(jobs), "-o", out, "--quiet", *extra,
            "--", python, WRITER, "{target}", "{payload}", str(chunk)]
    wall_s, rss, code, err = measure(argv, work, env)
    report = json.load(open(os.path.join(out, "report.json")))
    runs = {m: n for m, n in report["model_cases"].items() if m != "power-loss"}
    cases = sum(runs.values())  # subject runs; power-loss states are computed, not run
    states = report["model_cases"].get("power-loss", 0)
    shutil.rmtree(out)
    return {"name": name, "payload_bytes": size, "writes": -(-size // chunk), "exit": code,
            "bare_s": bare_s, "campaign_s": wall_s, "wall_ratio": wall_s / bare_s,
            "peak_rss_mib": rss, "bare_rss_mib": bare_rss, "rss_bound_mib": 100 + 2 * size / MIB,
            "cases": cases, "power_loss_states": states, "notes": [n for n in report.get("notes", []) if "possible" in n]}


def svg(rows):
    """Wall-time ratio and peak RSS against the number of writes, log-x."""
    import math
    w, h, pad = 640, 320, 50
    xs = [math.log10(r["writes"]) for r in rows]
    lo, hi = min(xs), max(xs) or 1
    def px(x):
        return pad + (x - lo) / ((hi - lo) or 1) * (w - 2 * pad)
    def series(key, colour):
        top = max(r[key] for r in rows) or 1
        pts = " ".join(f"{px(x):.0f},{h - pad - r[key] / top * (h - 2 * pad):.0f}" for x, r in zip(xs, rows))
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>', top
    wall, wall_top = series("wall_ratio", "#1f77b4")
    rss, rss_top = series("peak_rss_mib", "#d62728")
    labels = "".join(f'<text x="{px(x):.0f}" y="{h - pad + 16}" font-size="11" text-anchor="middle">{r["writes"]}</text>'
                     for x, r in zip(xs, rows))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">'
            f'<rect width="{w}" height="{h}" fill="white"/>{wall}{rss}{labels}'
            f'<text x="{w / 2}" y="{h - 8}" font-size="12" text-anchor="middle">write calls (log scale)</text>'
            f'<text x="{pad}" y="20" font-size="12" fill="#1f77b4">campaign wall ÷ bare run (max {wall_top:.0f})</text>'
            f'<text x="{w - pad}" y="20" font-size="12" fill="#d62728" text-anchor="end">peak RSS MiB (max {rss_top:.0f})</text>'
            f'</svg>\n')


def table(rows):
    lines = ["| configuration | writes | cases run | power-loss states | bare run | campaign | wall ÷ bare | peak RSS | bound |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['writes']} | {r['cases']} | {r['power_loss_states']} | {r['bare_s']:.2f} s "
                     f"| {r['campaign_s']:.1f} s "
                     f"| {r['wall_ratio']:.1f} | {r['peak_rss_mib']:.0f} MiB | {r['rss_bound_mib']:.0f} MiB |")
    return "\n".join(lines) + "\n"


def main():
    crashcheck, python, out_dir = (os.path.abspath(a) if os.sep in a else a for a in sys.argv[1:4])
    quick = "--quick" in sys.argv[4:]
    extra = ["--fork"] if "--fork" in sys.argv[4:] else []
    os.makedirs(out_dir, exist_ok=True)
    configs = SIZES[:2] if quick else SIZES + WITH_CONCURRENT + GROWTH
    rows = []
    with tempfile.TemporaryDirectory(prefix="crashcheck-bench-") as work:
        for name, size, chunk, *models in configs:
            rows.append(one(crashcheck, python, work, name, size, chunk, extra + (models[0] if models else [])))
            r = rows[-1]
            print(f"{name}: {r['cases']} cases, {r['wall_ratio']:.1f} bare runs, {r['peak_rss_mib']:.0f} MiB", flush=True)
    json.dump(rows, open(os.path.join(out_dir, "campaign_scale.json"), "w"), indent=2)
    open(os.path.join(out_dir, "campaign_scale.md"), "w").write(table(rows))
    growth = [r for r in rows if r["name"].endswith(" writes")]
    if growth:
        open(os.path.join(out_dir, "campaign_scale.svg"), "w").write(svg(growth))
    missed = [f"{r['name']}: peak RSS {r['peak_rss_mib']:.0f} MiB over {r['rss_bound_mib']:.0f}"
              for r in rows if r["peak_rss_mib"] > r["rss_bound_mib"]]
    missed += [f"{r['name']}: {r['wall_ratio']:.1f} bare runs over 40" for r in rows
               if r["name"].startswith("1 MiB") and r["wall_ratio"] > 40]
    print("\n".join(missed) if missed else "every target met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
