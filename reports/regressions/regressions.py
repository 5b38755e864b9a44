#!/usr/bin/python3
"""The checked-in regression reports for the seed's issues #12-#15.

  regressions.py regenerate CRASHCHECK  rewrite reports/regressions/<scenario>/report.{json,md}
  regressions.py check CRASHCHECK       regenerate into a temporary directory and compare
                                        the verdicts with the checked-in reports (CTest)
  regressions.py self-test              the comparison notices every change it should,
                                        and none it should not (CTest)

Only what a run of the same code must reproduce is compared: every property's
verdict (a change in either direction fails, unlike `crashcheck compare`,
which only flags "worse"), whether the run completed, and for a failing
property the number of cases that judged it and of its counterexamples (both
were identical over 16 runs, two at a time on a loaded machine). Timestamps,
durations, paths and replay commands are never compared.
"""
import copy
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCENARIOS = ["pipeline_health_original", "pipeline_health_fix"]
# What a regenerated run writes but is not checked in (kept small: JSON and Markdown only).
NOT_CHECKED_IN = ["report.html", "report.junit.xml"]
REGENERATE_HINT = ("If the change is intended, regenerate and review the diff:\n"
                   "  /usr/bin/python3 reports/regressions/regressions.py regenerate build/runner/crashcheck\n"
                   "  git diff reports/regressions/")


def run_scenarios(crashcheck, out_dir):
    """Runs both seed scenarios with `crashcheck run`; each report lands in out_dir/<scenario>/."""
    argv = [str(crashcheck), "run", *(str(REPO / "scenarios" / f"{s}.json") for s in SCENARIOS),
            "-j2", "-o", str(out_dir)]
    done = subprocess.run(argv, capture_output=True, text=True)
    # 1 is expected (both writers break some property); 2 and 3 mean no usable report.
    if done.returncode not in (0, 1):
        sys.exit(f"regressions: `{' '.join(argv)}` exited {done.returncode}:\n{done.stderr}")
    for scenario in SCENARIOS:
        for name in NOT_CHECKED_IN:
            (out_dir / scenario / name).unlink(missing_ok=True)


def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"regressions: cannot read report {path}: {e}")


def describe(result):
    return f"{result['verdict']} ({result['cases']} cases, {len(result['failures'])} failing)"


def differences(expected, actual):
    """Lines naming each compared field where `actual` departs from `expected`."""
    lines = []
    if actual.get("complete") is not True:
        lines.append("the regenerated run did not complete (\"complete\": false)")
    want, got = expected["properties"], actual["properties"]
    for name in sorted(set(want) | set(got)):
        if name not in want and got.get(name, {}).get("verdict") == "not_run":
            continue  # a property added since the report was checked in, as report readers take it
        if name not in got or name not in want:
            side = "regenerated report" if name not in got else "checked-in report"
            lines.append(f"{name}: missing from the {side}")
            continue
        w, g = want[name], got[name]
        if w["verdict"] != g["verdict"]:
            lines.append(f"{name}: verdict {w['verdict']} (checked in) -> {g['verdict']} (regenerated);"
                         f" checked in {describe(w)}, regenerated {describe(g)}")
        elif w["verdict"] == "fail":
            for label, count in (("cases judged", lambda r: r["cases"]),
                                 ("counterexamples", lambda r: len(r["failures"]))):
                if count(w) != count(g):
                    lines.append(f"{name}: still fails, but {label} {count(w)} (checked in)"
                                 f" -> {count(g)} (regenerated)")
    return lines


def check(crashcheck):
    out_dir = Path(tempfile.mkdtemp(prefix="crashcheck-regressions-"))
    run_scenarios(crashcheck, out_dir)
    failed = False
    for scenario in SCENARIOS:
        checked_in = HERE / scenario / "report.json"
        lines = differences(load(checked_in), load(out_dir / scenario / "report.json"))
        if lines:
            failed = True
            print(f"{scenario}: the regenerated report differs from {checked_in.relative_to(REPO)}:")
            print("".join(f"  {line}\n" for line in lines), end="")
        else:
            print(f"{scenario}: verdicts match {checked_in.relative_to(REPO)}")
    if failed:
        print(f"Regenerated reports kept in {out_dir}\n{REGENERATE_HINT}")
        return 1
    shutil.rmtree(out_dir)
    return 0


def regenerate(crashcheck):
    # Written in place so each counterexample's replay command names the checked-in report.
    run_scenarios(crashcheck, HERE)
    for scenario in SCENARIOS:
        report = load(HERE / scenario / "report.json")
        print(f"{scenario}: " + ", ".join(f"{name} {r['verdict']}" for name, r in report["properties"].items()))
    return 0


def self_test():
    """Each mutation of a checked-in report must be reported; irrelevant ones must not."""
    problems = []
    for scenario in SCENARIOS:
        base = load(HERE / scenario / "report.json")
        props = base["properties"]
        failing = next(n for n, r in props.items() if r["verdict"] == "fail")
        passing = next(n for n, r in props.items() if r["verdict"] == "pass")

        def mutated(change):
            report = copy.deepcopy(base)
            change(report)
            return report

        def set_verdict(name, verdict):
            return lambda r: r["properties"][name].update(verdict=verdict)

        must_differ = {
            f"{failing} fail -> pass": set_verdict(failing, "pass"),
            f"{passing} pass -> fail": set_verdict(passing, "fail"),
            f"{passing} pass -> not_run": set_verdict(passing, "not_run"),
            f"{failing} one case fewer": lambda r: r["properties"][failing].update(cases=r["properties"][failing]["cases"] - 1),
            f"{failing} one counterexample fewer": lambda r: r["properties"][failing]["failures"].pop(),
            f"{passing} dropped": lambda r: r["properties"].pop(passing),
            "incomplete run": lambda r: r.update(complete=False),
        }
        must_match = {
            "other timestamp, duration, version": lambda r: r.update(created="1999-01-01T00:00:00Z", duration_s=99.0,
                                                                     tool_version="9.9"),
            "other paths": lambda r: r["subject"].update(old_file="/elsewhere/old.json", scenario="/elsewhere/s.json"),
            "other replay commands": lambda r: [f.update(replay="crashcheck replay /x/report.json " + f["case_id"])
                                                for p in r["properties"].values() for f in p["failures"]],
            f"{passing} judged by one case more": lambda r: r["properties"][passing].update(cases=r["properties"][passing]["cases"] + 1),
        }
        for what, change in must_differ.items():
            if not differences(base, mutated(change)):
                problems.append(f"{scenario}: not noticed: {what}")
        for what, change in must_match.items():
            if lines := differences(base, mutated(change)):
                problems.append(f"{scenario}: wrongly flagged: {what}: {lines}")
    print("\n".join(problems) or f"comparison self-test: every mutation of {', '.join(SCENARIOS)} judged as expected")
    return 1 if problems else 0


def main(argv):
    verbs = {"check": check, "regenerate": regenerate}
    if len(argv) == 2 and argv[1] == "self-test":
        return self_test()
    if len(argv) == 3 and argv[1] in verbs:
        crashcheck = Path(argv[2]).resolve()
        if not crashcheck.is_file():
            print(f"regressions: no crashcheck program at {argv[2]}", file=sys.stderr)
            return 2
        return verbs[argv[1]](crashcheck)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
