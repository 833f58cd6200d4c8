#!/usr/bin/python3
"""The King James Bible as plain text, from Debian's bible-kjv-text package.

/usr/lib/bible.data is the Bible Retrieval System's "EC02" file: a header
(magic "EC", version "02", an 80-byte description, big-endian window size and
window count, then count+1 big-endian file offsets of the compressed windows),
followed by windows that were each compressed on their own with Unix
compress's LZW (16-bit codes, block mode with CLEAR = 256, codes read in
groups of n_bits bytes). Decompressing every window and joining them gives
the text, one verse per line ("Ge1:1 In the beginning ...").
"""

import struct

BIBLE_DATA = "/usr/lib/bible.data"

_CLEAR = 256
_FIRST_FREE = 257
_MAX_BITS = 16


def _lzw_codes(data):
    """Yields the codes of one window the way compress reads them.

    compress reads n_bits bytes at a time (8 codes), and throws the rest of such
    a group away whenever the code width grows or a CLEAR arrives, so a reader
    must know the dictionary size: the generator is sent it after each code.
    """
    position, n_bits, max_code = 0, 9, (1 << 9) - 1
    group, bit_offset, bits_in_group = 0, 0, 0
    free_entry, clear = _FIRST_FREE, False
    while True:
        if clear or bit_offset >= bits_in_group or free_entry > max_code:
            if free_entry > max_code:
                n_bits += 1
                max_code = (1 << _MAX_BITS) if n_bits == _MAX_BITS else (1 << n_bits) - 1
            if clear:
                n_bits, max_code, clear = 9, (1 << 9) - 1, False
            size = min(n_bits, len(data) - position)
            if size <= 0:
                return
            group = int.from_bytes(data[position:position + size], "little")
            position += size
            bit_offset, bits_in_group = 0, size * 8 - (n_bits - 1)
        code = (group >> bit_offset) & ((1 << n_bits) - 1)
        bit_offset += n_bits
        free_entry, clear = yield code


def _decompress_window(data):
    prefix = [0] * (1 << _MAX_BITS)
    suffix = list(range(256)) + [0] * ((1 << _MAX_BITS) - 256)
    out = bytearray()
    free_entry = _FIRST_FREE
    codes = _lzw_codes(data)
    try:
        old = next(codes)
        final = old
        out.append(final)
        code = codes.send((free_entry, False))
        while True:
            if code == _CLEAR:
                free_entry = _FIRST_FREE - 1
                code = codes.send((free_entry, True))
            incoming = code
            stack = []
            if code >= free_entry:  # the KwKwK case
                stack.append(final)
                code = old
            while code >= 256:
                stack.append(suffix[code])
                code = prefix[code]
            final = suffix[code]
            stack.append(final)
            out.extend(reversed(stack))
            if free_entry < (1 << _MAX_BITS):
                prefix[free_entry], suffix[free_entry] = old, final
                free_entry += 1
            old = incoming
            code = codes.send((free_entry, False))
    except StopIteration:
        pass
    return bytes(out)


def read_kjv(path=BIBLE_DATA):
    """The whole text (about 4.4 MB of ASCII, one verse per line)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"EC02":
        raise ValueError(f"{path}: not a Bible Retrieval System EC02 data file")
    window_size, windows = struct.unpack(">ii", data[84:92])
    offsets = struct.unpack(f">{windows + 1}i", data[92:92 + 4 * (windows + 1)])
    text = bytearray()
    for w in range(windows):
        chunk = _decompress_window(data[offsets[w]:offsets[w + 1]])
        if w + 1 < windows and len(chunk) != window_size:
            raise ValueError(f"{path}: window {w} decompressed to {len(chunk)} bytes, not {window_size}")
        text += chunk
    return bytes(text)


if __name__ == "__main__":
    import sys

    sys.stdout.buffer.write(read_kjv())
