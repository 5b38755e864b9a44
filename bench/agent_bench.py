# The benchmark's Python subject: the seed's fixed writer (mkstemp, json.dump,
# fsync, os.replace) run ROUNDS times on a payload of about 64 KiB, plus the
# plain open()+json.dump of the buggy version, in one interpreter.
import json, os, sys, tempfile

target, rounds = sys.argv[1], int(sys.argv[2])
d = os.path.dirname(target)
payload = {"items": [{"id": i, "name": "item-%d" % i, "ok": i % 3 == 0} for i in range(1500)]}

def write_json_atomic(path, data):
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise

for i in range(rounds):
    write_json_atomic(target, payload)
    with open(target + ".plain", "w") as f:
        json.dump(payload, f)
