"""QR codes for trace codes: a fast encoder that draws exactly what `qrcode` draws, PNG and SVG.

A label's QR encodes `PUBLIC_BASE_URL/t/<compact code>` in byte mode at error-correction level M
(15 % of the symbol may be lost — scuffs, a fold in the bag). With the usual base URL
(`https://` + a host of ~20 characters) that is 40–45 bytes: version 3 (29×29 modules) or 4 (33×33).

Size on the label: the symbol and its 4-module quiet zone must fit a 2 cm square printed at
300 dpi, i.e. 236 pixels. The box size (pixels per module) is the largest whole number that fits:
version 3 → 37 modules × 6 px = 222 px = 18.8 mm, modules 0.51 mm; version 4 → 41 × 5 px = 205 px
= 17.4 mm, modules 0.42 mm. Phones read modules from about 0.33 mm, so both scan comfortably.
PNGs carry 300 dpi so label software prints them at that size; SVGs are 20 mm with a viewBox.

Why our own encoder: `qrcode.make` spends most of its time building the symbol eight times in
Python and scoring each mask with per-module loops. Here the per-version work (function patterns,
the order data bits are placed in, the eight masks, format bits) is computed once and cached;
per code we only Reed–Solomon encode ~44 bytes (table-driven), place the bits with one
`itemgetter` call, and score the eight masks with big-integer and regex operations that run in
C. The mask is still chosen by the standard's penalty rules — the same four rules, computed the
same way as `qrcode.util.lost_point`, so the chosen mask and every module are identical to
`qrcode`'s (tests compare the two on many codes). Nothing is fixed that the standard chooses.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Iterable, Sequence

from PIL import Image
from qrcode import constants as qr_constants
from qrcode import util as qr_util
from qrcode.base import rs_blocks
from qrcode.main import QRCode

# qrcode's constant for level M is also the two format-information bits the standard uses.
ERROR_CORRECTION = qr_constants.ERROR_CORRECT_M
BORDER = 4  # the standard's quiet zone, in modules
LABEL_MM = 20.0
LABEL_DPI = 300
# One process draws ~2,000 labels a second (scripts/bench_qr.py); a web server's other cores serve
# other requests, so labels are drawn in the request's own process.


def trace_url(base_url: str, code: str) -> str:
    """The URL a label's QR carries: PUBLIC_BASE_URL/t/<compact code>."""
    return f"{base_url.rstrip('/')}/t/{code}"


def box_size_for(modules: int, border: int = BORDER, mm: float = LABEL_MM, dpi: int = LABEL_DPI) -> int:
    """The largest whole pixels-per-module so symbol + quiet zone fit `mm` at `dpi`."""
    pixels = int(mm / 25.4 * dpi)
    return max(1, pixels // (modules + 2 * border))


# --- Reed–Solomon over GF(256), primitive polynomial 0x11D ----------------------------------

_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]
del _x, _i


def _gf_mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


@lru_cache(maxsize=None)
def _rs_table(ec_count: int) -> tuple[int, ...]:
    """For each byte f, the generator polynomial (without its leading 1) times f, as one integer.

    Long division then costs one shift, one XOR and one lookup per data byte.
    """
    gen = [1]
    for i in range(ec_count):
        nxt = [0] * (len(gen) + 1)
        for j, coef in enumerate(gen):
            nxt[j] ^= coef
            nxt[j + 1] ^= _gf_mul(coef, _EXP[i])
        gen = nxt
    tail = gen[1:]
    return tuple(int.from_bytes(bytes(_gf_mul(c, f) for c in tail), "big") for f in range(256))


def _rs_remainder(data: bytes, ec_count: int) -> bytes:
    table = _rs_table(ec_count)
    shift = 8 * (ec_count - 1)
    keep = (1 << shift) - 1
    rem = 0
    for byte in data:
        rem = ((rem & keep) << 8) ^ table[byte ^ (rem >> shift)]
    return rem.to_bytes(ec_count, "big")


# --- per-version template ------------------------------------------------------------------

@dataclass(frozen=True)
class _Template:
    version: int
    n: int
    data_bits: int  # data + EC codewords, in bits
    blocks: tuple[tuple[int, int], ...]  # (total, data) codewords per block
    row_source: tuple[int, ...]  # for each module (row-major): index into stream + "01"
    col_source: tuple[int, ...]  # the same, column-major
    masks_row: tuple[int, ...]  # per mask: bits of the data region the mask flips (row-major int)
    masks_col: tuple[int, ...]
    finish: tuple[int, ...]  # per mask: format (and version) bits and the dark module, row-major
    valid_2x2: int  # positions that can be the bottom-right of a 2×2 block


def _capacity_bits(version: int) -> int:
    return sum(b.data_count for b in rs_blocks(version, ERROR_CORRECTION)) * 8


def _version_for(length: int) -> int:
    """Smallest version whose level-M capacity holds `length` bytes in byte mode."""
    for version in range(1, 41):
        count_bits = 8 if version < 10 else 16
        if 4 + count_bits + 8 * length <= _capacity_bits(version):
            return version
    raise ValueError("data too long for a QR code")


@lru_cache(maxsize=8)
def _template(version: int) -> _Template:
    """Everything about a version that does not depend on the data (built with qrcode itself)."""
    qr = QRCode(version=version, error_correction=ERROR_CORRECTION)
    n = version * 4 + 17
    qr.modules_count = n
    # Function patterns only: finder, separators, alignment, timing.
    qr.modules = [[None] * n for _ in range(n)]
    qr.setup_position_probe_pattern(0, 0)
    qr.setup_position_probe_pattern(n - 7, 0)
    qr.setup_position_probe_pattern(0, n - 7)
    qr.setup_position_adjust_pattern()
    qr.setup_timing_pattern()
    function = [row[:] for row in qr.modules]
    # Reserve the format (and version) areas the way qrcode's mask test does: all light.
    qr.setup_type_info(True, 0)
    if version >= 7:
        qr.setup_type_number(True)
    reserved = [row[:] for row in qr.modules]

    # Data bit order: qrcode's (the standard's) two-column zigzag from the bottom right.
    order: list[tuple[int, int]] = []
    row, inc = n - 1, -1
    for col in range(n - 1, 0, -2):
        if col <= 6:
            col -= 1
        while True:
            for c in (col, col - 1):
                if reserved[row][c] is None:
                    order.append((row, c))
            row += inc
            if row < 0 or row >= n:
                row -= inc
                inc = -inc
                break

    blocks = tuple((b.total_count, b.data_count) for b in rs_blocks(version, ERROR_CORRECTION))
    data_bits = sum(t for t, _ in blocks) * 8
    zero, one = data_bits, data_bits + 1  # indexes of the constant "0" and "1" after the stream
    source = [[zero] * n for _ in range(n)]
    for r in range(n):
        for c in range(n):
            if reserved[r][c]:
                source[r][c] = one
    for i, (r, c) in enumerate(order):
        # Remainder bits past the codewords are light before masking (index `zero`).
        source[r][c] = i if i < data_bits else zero
    row_source = tuple(source[r][c] for r in range(n) for c in range(n))
    col_source = tuple(source[r][c] for c in range(n) for r in range(n))

    def as_int(cells: Iterable[tuple[int, int]], column_major: bool = False) -> int:
        value = 0
        top = n * n - 1
        for r, c in cells:
            value |= 1 << (top - (c * n + r if column_major else r * n + c))
        return value

    masks_row, masks_col = [], []
    for m in range(8):
        func = qr_util.mask_func(m)
        flipped = [(r, c) for r, c in order if func(r, c)]
        masks_row.append(as_int(flipped))
        masks_col.append(as_int(flipped, column_major=True))

    finish = []
    format_cells = [(r, c) for r in range(n) for c in range(n) if function[r][c] is None and reserved[r][c] is not None]
    for m in range(8):
        qr.modules = [row[:] for row in function]
        qr.setup_type_info(False, m)
        if version >= 7:
            qr.setup_type_number(False)
        finish.append(as_int((r, c) for r, c in format_cells if qr.modules[r][c]))

    # Bit p (counting from the end) is module k = n*n-1-p; a 2×2 block is scored at its
    # bottom-right module, which must not be in the first row or column.
    valid = 0
    for r in range(1, n):
        for c in range(1, n):
            valid |= 1 << (n * n - 1 - (r * n + c))
    return _Template(version, n, data_bits, blocks, row_source, col_source, tuple(masks_row), tuple(masks_col),
                     tuple(finish), valid)


def _codewords(data: bytes, tpl: _Template) -> bytes:
    """Mode, length, data, terminator and padding, split into blocks, RS-encoded and interleaved."""
    count_bits = 8 if tpl.version < 10 else 16
    capacity = sum(d for _, d in tpl.blocks) * 8
    bits = (0b0100 << count_bits | len(data)) << (8 * len(data)) | int.from_bytes(data, "big")
    length = 4 + count_bits + 8 * len(data)
    terminator = min(4, capacity - length)
    bits <<= terminator
    length += terminator
    if length % 8:
        bits <<= 8 - length % 8
        length += 8 - length % 8
    body = bits.to_bytes(length // 8, "big") + bytes((0xEC, 0x11) * capacity)[:capacity // 8 - length // 8]
    data_blocks, ec_blocks, offset = [], [], 0
    for total, count in tpl.blocks:
        chunk = body[offset:offset + count]
        offset += count
        data_blocks.append(chunk)
        ec_blocks.append(_rs_remainder(chunk, total - count))
    out = bytearray()
    for group in (data_blocks, ec_blocks):
        for i in range(max(len(b) for b in group)):
            out.extend(b[i] for b in group if i < len(b))
    return bytes(out)


_FINDER_LIKE = ("10111010000", "00001011101")


@lru_cache(maxsize=8)
def _line_masks(n: int) -> tuple[int, int, int]:
    """For an n×n matrix as one integer: all bits; modules with a right neighbour in their line;
    modules that can start an 11-module window in their line."""
    full = (1 << (n * n)) - 1
    pairs = windows = 0
    for line in range(n):
        for c in range(n):
            bit = 1 << (n * n - 1 - (line * n + c))
            if c <= n - 2:
                pairs |= bit
            if c <= n - 11:
                windows |= bit
    return full, pairs, windows


def _line_points(value: int, n: int) -> int:
    """Rules 1 and 3 along the lines of a matrix integer (rows if row-major, columns if column-major).

    Bit q stands for module k = n*n-1-q, so `value << i` puts module k+i at bit q. Rule 1: a run
    of L ≥ 5 same-coloured modules costs L-2 = (L-4 windows of five) + 2 (the run's start).
    Rule 3: 40 per 1:1:3:1:1 finder-like window with four light modules on one side; neither
    window overlaps itself, so counting matches at every position counts what qrcode counts.
    """
    full, pairs, windows = _line_masks(n)
    same = ~(value ^ (value << 1)) & pairs
    fives = same & (same << 1) & (same << 2) & (same << 3)
    points = fives.bit_count() + 2 * (fives & ~(same >> 1)).bit_count()
    light = ~value & full
    for pattern in _FINDER_LIKE:
        hit = windows
        for i, ch in enumerate(pattern):
            hit &= (value if ch == "1" else light) << i
        points += 40 * hit.bit_count()
    return points


def _penalty(row_value: int, col_value: int, n: int, valid_2x2: int) -> int:
    """The standard's four penalty rules, scored exactly as `qrcode.util.lost_point` does."""
    points = _line_points(row_value, n) + _line_points(col_value, n)
    # Rule 2: 3 per 2×2 block of one colour (blocks may overlap).
    same = ~(row_value ^ (row_value >> 1)) & ~(row_value ^ (row_value >> n)) & ~(row_value ^ (row_value >> (n + 1)))
    points += 3 * (same & valid_2x2).bit_count()
    # Rule 4: 10 per full 5 % that dark modules depart from half.
    percent = float(row_value.bit_count()) / (n * n)
    return points + int(abs(percent * 100 - 50) / 5) * 10


@dataclass(frozen=True)
class Symbol:
    """A QR symbol: `size`×`size` modules as a row-major string of '1' (dark) and '0'."""

    size: int
    bits: str
    version: int
    mask: int

    def rows(self) -> list[str]:
        return [self.bits[i:i + self.size] for i in range(0, self.size * self.size, self.size)]


def encode(text: str) -> Symbol:
    """The QR symbol for `text` in byte mode, level M: module for module what `qrcode` builds.

    Always byte mode: a trace URL has lower-case letters, so `qrcode` picks byte mode for it too
    (it would pick alphanumeric mode only for text that is all upper case and digits).
    """
    data = text.encode("utf-8")
    tpl = _template(_version_for(len(data)))
    n, total = tpl.n, tpl.n * tpl.n
    stream = format(int.from_bytes(_codewords(data, tpl), "big"), f"0{tpl.data_bits}b") + "01"
    row_bits = "".join(itemgetter(*tpl.row_source)(stream))
    col_bits = "".join(itemgetter(*tpl.col_source)(stream))
    row_value, col_value = int(row_bits, 2), int(col_bits, 2)
    best, best_mask = None, 0
    for m in range(8):
        score = _penalty(row_value ^ tpl.masks_row[m], col_value ^ tpl.masks_col[m], n, tpl.valid_2x2)
        if best is None or score < best:  # ties: the lowest mask number, as qrcode
            best, best_mask = score, m
    final = row_value ^ tpl.masks_row[best_mask] | tpl.finish[best_mask]
    return Symbol(n, format(final, f"0{total}b"), tpl.version, best_mask)


# --- images ---------------------------------------------------------------------------------

_TO_GREY = bytes.maketrans(b"01", b"\xff\x00")


def _image(symbol: Symbol, box_size: int | None, border: int) -> Image.Image:
    box = box_size or box_size_for(symbol.size, border)
    n = symbol.size
    small = Image.frombytes("L", (n, n), symbol.bits.encode("ascii").translate(_TO_GREY))
    framed = Image.new("L", (n + 2 * border, n + 2 * border), 255)
    framed.paste(small, (border, border))
    side = (n + 2 * border) * box
    return framed.resize((side, side), Image.Resampling.NEAREST).convert("1", dither=Image.Dither.NONE)


def png(text: str, box_size: int | None = None, border: int = BORDER) -> bytes:
    """A 1-bit PNG of the QR for `text`, sized for a 2 cm label at 300 dpi unless `box_size` is given."""
    out = io.BytesIO()
    _image(encode(text), box_size, border).save(out, "PNG", dpi=(LABEL_DPI, LABEL_DPI))
    return out.getvalue()


def image(text: str, box_size: int | None = None, border: int = BORDER) -> Image.Image:
    """The QR as a Pillow image (1-bit)."""
    return _image(encode(text), box_size, border)


_DARK_RUNS = re.compile(r"1+")


def svg_path(symbol: Symbol, border: int = BORDER) -> str:
    """The dark modules as one SVG path, one rectangle per horizontal run (units: modules)."""
    parts = []
    for r, row in enumerate(symbol.rows()):
        for run in _DARK_RUNS.finditer(row):
            parts.append(f"M{run.start() + border} {r + border}h{run.end() - run.start()}v1h-{run.end() - run.start()}z")
    return "".join(parts)


def svg_element(text: str, border: int = BORDER, css_class: str = "qr", size: str | None = None,
                title: str | None = None) -> str:
    """An inline `<svg>` (no XML prolog) for HTML pages; sized by CSS unless `size` is given."""
    symbol = encode(text)
    side = symbol.size + 2 * border
    dims = f' width="{size}" height="{size}"' if size else ""
    label = f"<title>{_escape(title)}</title>" if title else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" viewBox="0 0 {side} {side}"{dims} '
            f'shape-rendering="crispEdges" role="img">{label}<rect width="{side}" height="{side}" fill="#fff"/>'
            f'<path d="{svg_path(symbol, border)}" fill="#000"/></svg>')


def svg(text: str, border: int = BORDER) -> str:
    """A standalone SVG document, 20 mm square, for download and print."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + svg_element(text, border, size=f"{LABEL_MM:g}mm",
                                                                    title=text) + "\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# --- many at once ---------------------------------------------------------------------------

def pngs(texts: Sequence[str], box_size: int | None = None, border: int = BORDER) -> list[bytes]:
    """PNGs for many texts, in order."""
    return [png(t, box_size, border) for t in texts]


def svg_elements(texts: Sequence[str], border: int = BORDER) -> list[str]:
    """Inline SVGs for many texts, in order."""
    return [svg_element(t, border, css_class="qr") for t in texts]


def zip_of_pngs(named: Sequence[tuple[str, str]], box_size: int | None = None) -> bytes:
    """A ZIP of (file name, text) QR PNGs; stored, not deflated — PNGs are already compressed."""
    images = pngs([text for _, text in named], box_size)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for (name, _), data in zip(named, images):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def pngs_images(texts: Sequence[str], box_size: int | None = None, border: int = BORDER) -> list[Image.Image]:
    """Pillow images (1-bit) for many texts, in order, for pages drawn here (the PDF)."""
    return [image(t, box_size, border) for t in texts]
