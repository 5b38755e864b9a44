"""The seed's fix: write_json_atomic exactly as the issue's "Fix Plan" writes it.

Usage: pipeline_health_fix.py TARGET PAYLOAD
"""
import json
import sys
from pathlib import Path

import tempfile
import os

def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON file atomically using temp file + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    
    # Write to temporary file in same directory
    fd, temp_path = tempfile.mkstemp(
        dir=path.parent,
        suffix='.json.tmp'
    )
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())  # Force write to disk
        
        # Atomic rename (POSIX guarantees atomicity)
        os.replace(temp_path, path)
    except Exception:
        # Clean up temp file on failure
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise


with open(sys.argv[2]) as source:
    health_data = json.load(source)
write_json_atomic(Path(sys.argv[1]), health_data)
