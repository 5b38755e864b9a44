"""Per-case overhead: what the harness adds to each fault case, against one
bare run of the same subject measured in the same run. crashcheck's
CRASHCHECK_CASE_TIMINGS hook (runner/include/crashcheck/runner/case_timings.hpp)
gives, for every kill (exact), errno and disk-full case, its wall time in its
worker and the part of it during which the subject ran; the rest is the
harness: the case's scratch directory, the end snapshot, reading the trace,
comparison and bookkeeping, and removing the directory. The subject's part
starts at its launch (or fork request), so it holds the launcher and the
supervisor's notifications too: the table shows it beside. Campaigns run at
-j 1, so cases never wait for each other's core.

Usage: case_overhead.py CRASHCHECK PYTHON OUT_DIR [--quick]
Writes OUT_DIR/case_overhead.{json,md}; exits 1 when the harness per case
exceeds 20 % of a bare run (the target of bench/README.md) in any mode.
--quick: the 1 MiB configuration, unforked, only."""
import json
import os
import statistics
import sys
import tempfile

import campaign_scale as scale

TARGET = 0.20  # harness per case ÷ bare run
CONFIGS = [("2.8 KiB", 2867, 4096), ("1 MiB / 4 KiB writes", scale.MIB, 4096)]
BARE_RUNS = 5  # the bare run is their median: one run is too noisy a yardstick
REPEATS = 3  # each mode's figure is the median of this many campaigns, each against its own bare runs


def bare_median(python, work, chunk):
    """Median wall seconds of BARE_RUNS bare runs on the payload `scale.one` left in `work`."""
    argv = [python, scale.WRITER, os.path.join(work, "bare-target.bin"), os.path.join(work, "new.bin"), str(chunk)]
    return statistics.median(scale.measure(argv, work)[0] for _ in range(BARE_RUNS))


def measure_mode(crashcheck, python, work, config, forked):
    name, size, chunk = config
    timings = os.path.join(work, "timings.json")
    env = dict(os.environ, CRASHCHECK_CASE_TIMINGS=timings)
    row = scale.one(crashcheck, python, work, name, size, chunk, ["--fork"] if forked else [], env, jobs=1)
    bare = bare_median(python, work, chunk)
    totals = json.load(open(timings))["forked" if forked else "from_start"]
    os.unlink(timings)
    cases = totals["cases"]
    if cases == 0:
        raise SystemExit(f"{name}: no {'forked' if forked else 'from-start'} case ran (exit {row['exit']})")
    harness = (totals["whole_s"] - totals["subject_s"]) / cases
    subject = totals["subject_s"] / cases
    return {"name": name, "mode": "forked (--fork)" if forked else "from the start (default)", "cases": cases,
            "bare_s": bare, "harness_per_case_s": harness, "harness_ratio": harness / bare,
            "subject_per_case_s": subject, "subject_ratio": subject / bare, "campaign_s": row["campaign_s"]}


def mode(crashcheck, python, work, config, forked):
    """The median (by harness ÷ bare) of REPEATS measurements of one configuration in one mode."""
    rows = sorted((measure_mode(crashcheck, python, work, config, forked) for _ in range(REPEATS)),
                  key=lambda r: r["harness_ratio"])
    return dict(rows[len(rows) // 2], spread=[r["harness_ratio"] for r in rows])


def table(rows):
    lines = ["| configuration | cases | bare run | harness per case | ÷ bare | of the runs | subject per case | ÷ bare |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']}, {r['mode']} | {r['cases']} | {r['bare_s'] * 1000:.1f} ms "
                     f"| {r['harness_per_case_s'] * 1000:.2f} ms | **{r['harness_ratio']:.3f}** "
                     f"| {' / '.join(f'{x:.3f}' for x in r['spread'])} "
                     f"| {r['subject_per_case_s'] * 1000:.1f} ms | {r['subject_ratio']:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    crashcheck, python, out_dir = (os.path.abspath(a) if os.sep in a else a for a in sys.argv[1:4])
    quick = "--quick" in sys.argv[4:]
    os.makedirs(out_dir, exist_ok=True)
    forks = [False] if quick or os.geteuid() != 0 else [False, True]  # forked cases need root
    configs = CONFIGS[1:] if quick else CONFIGS
    rows = []
    with tempfile.TemporaryDirectory(prefix="crashcheck-bench-") as work:
        for config in configs:
            for forked in forks:
                rows.append(mode(crashcheck, python, work, config, forked))
                r = rows[-1]
                spread = ", ".join(f"{x:.3f}" for x in r["spread"])
                print(f"{r['name']}, {r['mode']}: {r['cases']} cases, harness {r['harness_per_case_s'] * 1000:.2f} ms "
                      f"per case = {r['harness_ratio']:.3f} bare runs (of {REPEATS}: {spread})", flush=True)
    json.dump(rows, open(os.path.join(out_dir, "case_overhead.json"), "w"), indent=2)
    open(os.path.join(out_dir, "case_overhead.md"), "w").write(table(rows))
    missed = [f"{r['name']}, {r['mode']}: harness {r['harness_ratio']:.3f} of a bare run per case, over {TARGET}"
              for r in rows if r["harness_ratio"] > TARGET]
    print("\n".join(missed) if missed else "every target met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
