"""Complaint photos: validated, size-limited and re-encoded so only pixels are kept (pure).

Re-encoding drops EXIF (GPS position, camera serial), ICC profiles, comments and anything hidden
after the image data; it also means a file that merely claims to be an image never reaches the
regulators' queue.
"""
from __future__ import annotations

import io
import warnings

from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from gi_trace.errors import ValidationError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_SOURCE_PIXELS = 40_000_000  # a 40-megapixel phone photo; beyond that it is a decompression bomb
MAX_SIDE = 2048  # regulators need to read a label, not print a poster
JPEG_QUALITY = 85
OUTPUT_MIME = "image/jpeg"


def reencode_photo(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[bytes, str]:
    """A JPEG holding only the pixels of an uploaded JPEG/PNG/WebP photo, or ValidationError."""
    if not data:
        raise ValidationError(_("The photo is empty."), field="photo")
    if len(data) > max_bytes:
        raise ValidationError(_("The photo is larger than %(size)s.", size=_size(max_bytes)), field="photo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ACCEPTED_FORMATS:
                    raise ValidationError(_("The photo must be a JPEG, PNG or WebP image."), field="photo")
                width, height = image.size
                if width < 1 or height < 1 or width * height > MAX_SOURCE_PIXELS:
                    raise ValidationError(_("The photo's dimensions are too large."), field="photo")
                image.load()
                # Apply the camera's orientation before the EXIF that carries it is dropped.
                image = ImageOps.exif_transpose(image)
                image = _flatten(image)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(_("The photo's dimensions are too large."), field="photo") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ValidationError(_("The photo could not be read as an image."), field="photo") from None
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    # A new image from the pixels alone: no info dict, no EXIF, no ICC profile travels with it.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), OUTPUT_MIME


def _size(n: int) -> str:
    """5242880 -> '5 MB', 2000 -> '2 KB'."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.3g} MB"
    return f"{max(1, round(n / 1024))} KB"


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels; transparency composited on white, palettes and greyscale expanded."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
