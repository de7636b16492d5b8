"""QR codes for trace codes: decodable by a real decoder, identical to qrcode's, sized for 2 cm labels."""
from __future__ import annotations

import io
import re
import zipfile

import pytest
import qrcode
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter
from qrcode import util as qr_util

from gi_trace.tracing import codes, qr

BASES = ("https://trace.example.cn", "https://gi-trace.zhongwei.gov.cn", "http://127.0.0.1:5000")


def _decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image.convert("L"))]


def _modules_of(qr_object) -> str:
    return "".join("1" if cell else "0" for row in qr_object.modules for cell in row)


@pytest.mark.parametrize("base", BASES)
def test_label_png_decodes_to_the_exact_trace_url(base):
    for _ in range(20):
        url = qr.trace_url(base, codes.new_code())
        image = Image.open(io.BytesIO(qr.png(url)))
        assert _decode(image) == [url]


def test_trace_url_is_base_slash_t_slash_compact_code():
    code = codes.new_code()
    assert qr.trace_url("https://trace.example.cn/", code) == f"https://trace.example.cn/t/{code}"


@pytest.mark.parametrize("base", BASES)
def test_fast_encoder_draws_exactly_what_qrcode_make_draws(base):
    # Same version, same mask chosen by the standard's penalty rules, same modules.
    for _ in range(150):
        url = qr.trace_url(base, codes.new_code())
        reference = qrcode.QRCode()  # what qrcode.make(url) uses: level M, automatic version and mask
        reference.add_data(url)
        reference.make()
        symbol = qr.encode(url)
        assert (symbol.version, symbol.size) == (reference.version, reference.modules_count)
        assert symbol.bits == _modules_of(reference), url


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_fast_encoder_matches_qrcode_for_any_text_in_byte_mode(text):
    reference = qrcode.QRCode()
    reference.add_data(qr_util.QRData(text.encode("utf-8"), mode=qr_util.MODE_8BIT_BYTE))
    reference.make()
    assert qr.encode(text).bits == _modules_of(reference)


def test_every_mask_is_still_chosen_by_the_penalty_rules():
    # Nothing is fixed: over many codes the standard's choice uses all eight masks.
    masks = {qr.encode(qr.trace_url(BASES[0], codes.new_code())).mask for _ in range(300)}
    assert masks == set(range(8))


def test_label_png_fits_two_centimetres_at_300_dpi():
    url = qr.trace_url(BASES[1], codes.new_code())
    image = Image.open(io.BytesIO(qr.png(url)))
    side_mm = image.size[0] / qr.LABEL_DPI * 25.4
    assert image.size[0] == image.size[1]
    assert 15.0 <= side_mm <= 20.0
    assert round(image.info["dpi"][0]) == 300
    assert image.mode == "1"
    # whole pixels per module, quiet zone of four modules
    symbol = qr.encode(url)
    assert image.size[0] == (symbol.size + 2 * qr.BORDER) * qr.box_size_for(symbol.size)


def test_small_blurred_label_still_decodes():
    # A label printed small and photographed slightly out of focus.
    url = qr.trace_url(BASES[0], codes.new_code())
    image = qr.image(url, box_size=3).convert("L").filter(ImageFilter.GaussianBlur(1.0))
    assert _decode(image) == [url]


def _render_svg(svg_text: str, scale: int = 6) -> Image.Image:
    side = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg_text).group(1))
    image = Image.new("L", (side * scale, side * scale), 255)
    draw = ImageDraw.Draw(image)
    path = re.search(r'<path d="([^"]+)"', svg_text).group(1)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path):
        x, y, w = int(x), int(y), int(w)
        draw.rectangle([x * scale, y * scale, (x + w) * scale - 1, (y + 1) * scale - 1], fill=0)
    return image


def test_svg_is_20mm_and_its_path_decodes_to_the_url():
    url = qr.trace_url(BASES[0], codes.new_code())
    document = qr.svg(url)
    assert document.startswith("<?xml")
    assert 'width="20mm" height="20mm"' in document
    assert _decode(_render_svg(document)) == [url]


def test_zip_holds_one_decodable_png_per_name_in_order():
    named = [(f"{codes.display(c)}.png", qr.trace_url(BASES[0], c)) for c in (codes.new_code() for _ in range(5))]
    archive = zipfile.ZipFile(io.BytesIO(qr.zip_of_pngs(named)))
    assert archive.namelist() == [name for name, _ in named]
    for name, url in named:
        assert _decode(Image.open(io.BytesIO(archive.read(name)))) == [url]

