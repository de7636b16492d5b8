"""Pure parts of the scan area: network hashing, photo re-encoding, counterfeit thresholds."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from gi_trace.errors import ValidationError
from gi_trace.scan import photos
from gi_trace.network import network_hash, network_of
from gi_trace.scan.services import flag_reason, thresholds


@pytest.mark.parametrize("address, network", [
    ("203.0.113.77", "203.0.113.0/24"),
    ("203.0.113.1", "203.0.113.0/24"),
    ("::ffff:203.0.113.9", "203.0.113.0/24"),
    ("2001:db8:77:1::5", "2001:db8:77::/48"),
    ("fe80::1%eth0", "fe80::/48"),
    ("", "unknown"),
    ("not an address", "unknown"),
])
def test_networks_are_the_24_or_48_prefix(address, network):
    assert network_of(address) == network


def test_network_hash_is_salted_and_never_contains_the_address():
    one = network_hash("203.0.113.77", "salt-a")
    assert one == network_hash("203.0.113.5", "salt-a")  # same /24
    assert one != network_hash("203.0.114.77", "salt-a")
    assert one != network_hash("203.0.113.77", "salt-b")
    assert len(one) == 32 and "203" not in one


def test_flag_reason_counts_networks_and_days_and_zero_disables_a_limit():
    assert flag_reason(2, 1, (3, 5)) is None
    assert flag_reason(3, 1, (3, 5)) == "networks"
    assert flag_reason(2, 5, (3, 5)) == "days"
    assert flag_reason(1, 365, (3, 5)) is None  # one network scanning every day is no second label
    assert flag_reason(10_000, 1, (0, 5)) is None
    assert flag_reason(2, 100, (3, 0)) is None


def test_thresholds_come_from_config():
    limits = thresholds({"SCAN_UNIT_FLAG_NETWORKS": 4, "SCAN_UNIT_FLAG_DAYS": 7})
    assert limits["unit"] == (4, 7) and limits["batch"][0] >= 1000
    assert thresholds({})["unit"] == (3, 5)


def _jpeg_with_exif(size=(640, 480)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 40))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "GPS-leaking software"  # Software
    exif[0x0112] = 6  # Orientation: rotate 90° on display
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"hidden comment")
    return out.getvalue() + b"TRAILING-PAYLOAD"


def test_photo_is_reencoded_to_pixels_only():
    data, mime = photos.reencode_photo(_jpeg_with_exif())
    assert mime == "image/jpeg"
    assert b"SecretCam" not in data and b"hidden comment" not in data and b"TRAILING-PAYLOAD" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert not image.getexif() and "comment" not in image.info
        assert image.size == (480, 640)  # the camera's orientation was applied before EXIF was dropped


def test_transparent_png_is_flattened_and_large_photo_shrunk():
    image = Image.new("RGBA", (3000, 1000), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    data, _mime = photos.reencode_photo(out.getvalue())
    with Image.open(io.BytesIO(data)) as clean:
        assert clean.mode == "RGB" and max(clean.size) == photos.MAX_SIDE
        assert clean.getpixel((10, 10)) == (255, 255, 255)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"<html><script>alert(1)</script></html>", "could not be read"),
    (b"GIF89a" + b"\0" * 100, "could not be read"),
])
def test_non_images_are_refused(data, message):
    with pytest.raises(ValidationError) as info:
        photos.reencode_photo(data)
    assert info.value.field == "photo" and message in info.value.message


def test_gif_and_oversized_files_are_refused():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    with pytest.raises(ValidationError, match="JPEG, PNG or WebP"):
        photos.reencode_photo(out.getvalue())
    with pytest.raises(ValidationError, match="larger than 2 KB"):
        photos.reencode_photo(_jpeg_with_exif(), max_bytes=2048)


def test_decompression_bomb_is_refused():
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, format="PNG")  # 100 megapixels in a few kB
    with pytest.raises(ValidationError, match="dimensions"):
        photos.reencode_photo(out.getvalue())
