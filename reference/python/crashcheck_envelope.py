"""Reader for the crashcheck reference writer's checksummed envelope.

The C++ writer (crashcheck-write --checksum, or WriteOptions::checksum) puts
the payload inside a 24-byte header; reference/README.md ("Envelope format")
documents it byte by byte. This module needs only the Python standard
library, so an application can read its state files without crashcheck:

    from crashcheck_envelope import read_verified, EnvelopeError
    try:
        payload = read_verified("state.json")
    except EnvelopeError as e:
        print(e.kind)  # not_an_envelope, truncated, extended, header_corrupt, ...

Run as a script it prints the payload of FILE to standard output, or the
reason it was rejected on standard error (exit 1).
"""

import struct
import sys

MAGIC = b"CCEN"
VERSION = 1
HEADER = struct.Struct("<4sHHQII")  # magic, version, flags, length, payload CRC, header CRC
assert HEADER.size == 24

# The same error kinds as crashcheck::EnvelopeErrc, by name.
KINDS = ("not_an_envelope", "truncated", "extended", "header_corrupt", "unsupported_version", "payload_corrupt")


class EnvelopeError(ValueError):
    """An envelope was rejected; `kind` is one of KINDS."""

    def __init__(self, kind):
        super().__init__(kind.replace("_", " "))
        self.kind = kind


def _crc_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli) of `data`; zlib.crc32 is a different polynomial."""
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def decode(data):
    """The payload of the envelope `data` (bytes), or EnvelopeError."""
    if not MAGIC.startswith(data[: len(MAGIC)]):
        raise EnvelopeError("not_an_envelope")
    if len(data) < HEADER.size:
        raise EnvelopeError("truncated")
    _, version, flags, length, payload_crc, header_crc = HEADER.unpack_from(data)
    if header_crc != crc32c(data[:20]):
        raise EnvelopeError("header_corrupt")
    if version != VERSION or flags != 0:
        raise EnvelopeError("unsupported_version")
    payload = data[HEADER.size :]
    if len(payload) < length:
        raise EnvelopeError("truncated")
    if len(payload) > length:
        raise EnvelopeError("extended")
    if payload_crc != crc32c(payload):
        raise EnvelopeError("payload_corrupt")
    return payload


def read_verified(path):
    """The verified payload (bytes) of the envelope in file `path`.

    Raises EnvelopeError when the file is not an intact envelope, OSError
    when it cannot be read.
    """
    with open(path, "rb") as f:
        return decode(f.read())


def main(argv):
    if len(argv) != 2:
        print("usage: crashcheck_envelope.py FILE", file=sys.stderr)
        return 2
    try:
        payload = read_verified(argv[1])
    except (EnvelopeError, OSError) as e:
        print(f"crashcheck_envelope: {argv[1]}: {e}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(payload)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
