"""The seed's pipeline step as it runs for real: it builds the health report
itself, with the time of the run in it, so no two runs write the same bytes
and there is no payload to compare with (crashcheck judges each run against
the content that run wrote; the scenario compares them as JSON).

Usage: pipeline_health_live.py TARGET [--in-place]
  (default)   write_json_atomic: a temp in the target's directory, flush,
              fsync, the old file's mode, os.replace, fsync of the directory.
  --in-place  the seed's original step: open(TARGET, "w") + json.dump, the
              defective twin (a crash or a reader can see a torn file).
"""
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

STAGES = ["fetch_holdings", "normalize_positions", "price_lookup", "risk_metrics", "rebalance_plan", "publish"]


def now() -> str:
    # Fixed width (microseconds always shown): the bytes change every run,
    # their length does not, so every run makes the same calls.
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def build_health() -> dict:
    started = now()
    return {
        "schema_version": 3,
        "pipeline": "portfolio_refresh",
        "run_id": started[:26] + "-%05d" % (os.getpid() % 100000),
        "status": "healthy",
        "started_at": started,
        "host": "crashcheck-scenario",
        "stages": [
            {"name": name, "status": "success", "finished_at": now(),
             "duration_ms": "%09.3f" % (time.perf_counter() % 100000), "records_in": 100 + 37 * i,
             "records_out": 100 + 41 * i}
            for i, name in enumerate(STAGES)
        ],
        "checked_at": now(),
    }


def write_json_atomic(path: Path, data: dict) -> None:
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, temp_path = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fchmod(f.fileno(), mode)  # mkstemp makes 0600: keep the old file's mode
            os.fsync(f.fileno())
        os.replace(temp_path, path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)  # the rename is durable only once the directory is
    finally:
        os.close(dir_fd)


def write_in_place(path: Path, data: dict) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=2)


target = Path(sys.argv[1])
(write_in_place if "--in-place" in sys.argv[2:] else write_json_atomic)(target, build_health())
