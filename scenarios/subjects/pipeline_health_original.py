"""The seed's original writer (pipeline.py:589-591), as the issue quotes it.

Usage: pipeline_health_original.py TARGET PAYLOAD
The health data comes from PAYLOAD (written by the same json.dump, so the
bytes on disk are exactly PAYLOAD's when the write completes).
"""
import json
import sys
from pathlib import Path

PIPELINE_HEALTH_PATH = Path(sys.argv[1])
with open(sys.argv[2]) as source:
    health_data = json.load(source)

PIPELINE_HEALTH_PATH.parent.mkdir(parents=True, exist_ok=True)
with open(PIPELINE_HEALTH_PATH, "w") as f:
    json.dump(health_data, f, indent=2)
