"""The Python reader against the C++ writer: crashcheck-write --checksum's
output is read back by crashcheck_envelope.read_verified, and each kind of
damage is rejected with the same kind name as the C++ reader gives.

Usage: python_reader_test.py CRASHCHECK_WRITE PYTHON_DIR
"""

import os
import subprocess
import sys
import tempfile
import unittest

WRITER, PYTHON_DIR = sys.argv[1], sys.argv[2]
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, PYTHON_DIR)
import crashcheck_envelope as envelope  # noqa: E402


def write_with_cli(target, payload, *flags):
    subprocess.run([WRITER, target, "--checksum", *flags], input=payload, check=True)


class PythonReader(unittest.TestCase):
    def setUp(self):
        self._dir = tempfile.TemporaryDirectory(prefix="crashcheck-envelope-")
        self.target = os.path.join(self._dir.name, "state.json")

    def tearDown(self):
        self._dir.cleanup()

    def damaged(self, change):
        with open(self.target, "rb") as f:
            data = bytearray(f.read())
        change(data)
        with open(self.target, "wb") as f:
            f.write(data)

    def assert_rejected(self, kind):
        with self.assertRaises(envelope.EnvelopeError) as caught:
            envelope.read_verified(self.target)
        self.assertEqual(caught.exception.kind, kind)

    def test_crc32c_known_answer(self):
        self.assertEqual(envelope.crc32c(b"123456789"), 0xE3069283)
        self.assertEqual(envelope.crc32c(bytes(32)), 0x8A9136AA)

    def test_reads_what_the_writer_wrote(self):
        for payload in (b"", b'{"count": 1}\n', bytes(range(256)) * 40):
            write_with_cli(self.target, payload)
            self.assertEqual(envelope.read_verified(self.target), payload)

    def test_reads_the_backup_written_under_the_lock(self):
        write_with_cli(self.target, b"v1", "--lock", "--backup")
        write_with_cli(self.target, b"v2", "--lock", "--backup")
        self.assertEqual(envelope.read_verified(self.target), b"v2")
        self.assertEqual(envelope.read_verified(self.target + ".bak"), b"v1")

    def test_rejects_each_damage_by_kind(self):
        cases = {
            "payload_corrupt": lambda d: d.__setitem__(30, d[30] ^ 0x01),
            "header_corrupt": lambda d: d.__setitem__(8, d[8] ^ 0x80),
            "not_an_envelope": lambda d: d.__setitem__(0, ord("X")),
            "truncated": lambda d: d.__delitem__(slice(len(d) - 1, None)),
            "extended": lambda d: d.extend(b"\n"),
        }
        for kind, change in cases.items():
            with self.subTest(kind=kind):
                write_with_cli(self.target, b"0123456789abcdef")
                self.damaged(change)
                self.assert_rejected(kind)

    def test_rejects_every_truncation(self):
        write_with_cli(self.target, b"payload")
        with open(self.target, "rb") as f:
            data = f.read()
        for length in range(len(data)):
            with self.subTest(length=length):
                with self.assertRaises(envelope.EnvelopeError) as caught:
                    envelope.decode(data[:length])
                self.assertEqual(caught.exception.kind, "truncated")

    def test_script_prints_the_payload_or_fails(self):
        write_with_cli(self.target, b"hello")
        script = os.path.join(PYTHON_DIR, "crashcheck_envelope.py")
        ok = subprocess.run([sys.executable, script, self.target], capture_output=True)
        self.assertEqual((ok.returncode, ok.stdout), (0, b"hello"))
        self.damaged(lambda d: d.extend(b"!"))
        bad = subprocess.run([sys.executable, script, self.target], capture_output=True)
        self.assertEqual(bad.returncode, 1)
        self.assertIn(b"extended", bad.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
