"""Photo metadata removal: what a camera writes beside the picture never reaches the store.

A phone photo carries EXIF and XMP (GPS position, capture time, device, owner
name), IPTC, comments, embedded thumbnails and preview images (which may show
the picture before it was cropped). None of that is needed to see the harm; it
can point to a child's home or name the reporter. So every JPEG, PNG, WebP and
HEIC upload is rewritten at intake:

- JPEG, PNG and WebP are filtered losslessly, by an allow-list of the segments
  and chunks that draw the picture (pixel data, tables, colour profile,
  animation): the picture's bytes stay exactly as taken, only the metadata
  goes. Anything after the end of the image (phones append preview images and
  depth maps there) goes too.
- When EXIF says the picture is turned (orientation other than 1), that tag
  would be lost with the rest and the photo would show on its side; the
  rotation is applied to the pixels first (Pillow's ``exif_transpose``) and the
  picture re-encoded (JPEG at quality 95, PNG and WebP losslessly).
- HEIC cannot be filtered in place (its metadata are items of the container),
  so the primary image is decoded with pillow-heif, which applies the
  container's rotation and mirroring, and re-encoded (quality 90) with its
  colour profile only. Depth maps, thumbnails and burst frames are dropped.

Every result is decoded once more in full: a file that claims to be an image
and does not decode is refused (``Undecodable``), so nothing unreadable is
kept as evidence and nothing unparsed is passed on to the staff's browsers.

No sealed original is kept (see ``attachments.store``): the SHA-256 of the
bytes as uploaded is recorded instead.
"""

from __future__ import annotations

import io
import struct
import warnings
from typing import Any

from PIL import Image, ImageOps

# More pixels than any phone photo has: refused before decoding (Pillow itself stops at 179 M; a 200 MP
# phone sensor writes 12-50 MP pictures by default).
MAX_PIXELS = 120_000_000
_ORIENTATION = 0x0112

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic")


class Undecodable(Exception):
    """The bytes look like an image but do not decode as one."""


class TooManyPixels(Exception):
    """The image decodes to more pixels than a photo has."""


def strip_metadata(content_type: str, data: bytes) -> bytes:
    """The picture without its metadata, upright. Raises ``Undecodable`` or ``TooManyPixels``."""
    fmt = _PIL_FORMATS[content_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS decides
            if fmt == "HEIF" or _needs_turning(data, fmt):
                cleaned = _reencode(data, fmt)
            else:
                cleaned = _FILTERS[content_type](data)
            _check_decodes(cleaned, fmt)
    except (TooManyPixels, Image.DecompressionBombError):
        raise TooManyPixels from None
    except Exception as exc:  # Pillow and the filters raise many types on hostile input: all mean "not an image"
        raise Undecodable from exc
    return cleaned


_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/heic": "HEIF"}


def _register_heif() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()


def _open(data: bytes, fmt: str) -> Image.Image:
    if fmt == "HEIF":
        _register_heif()
    image = Image.open(io.BytesIO(data), formats=[fmt])
    if image.width * image.height > MAX_PIXELS:
        raise TooManyPixels
    return image


def _needs_turning(data: bytes, fmt: str) -> bool:
    """EXIF says the (still) picture is turned: the tag goes with the metadata, so the pixels must turn."""
    with _open(data, fmt) as image:
        if getattr(image, "is_animated", False):
            return False  # frames are kept as they are; only their metadata goes
        return image.getexif().get(_ORIENTATION, 1) not in (1, None)


def _check_decodes(data: bytes, fmt: str) -> None:
    with _open(data, fmt) as image:
        if fmt == "JPEG":
            # Every coefficient is still read; only the last IDCT stage is scaled down.
            image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
        frames = getattr(image, "n_frames", 1)
        for frame in range(1, frames):
            image.seek(frame)
            image.load()


def _reencode(data: bytes, fmt: str) -> bytes:
    """Decode, turn upright, and encode a fresh image that carries nothing but pixels and colour profile."""
    with _open(data, fmt) as image:
        image.load()
        icc = image.info.get("icc_profile")
        upright = ImageOps.exif_transpose(image)
        clean = upright.copy()
    clean.info = {}  # no EXIF, XMP, comments or text travel with the pixels
    options: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        if clean.mode not in ("RGB", "L", "CMYK"):
            clean = clean.convert("RGB")
        options.update(quality=95)
    elif fmt == "WEBP":
        options.update(lossless=True)
    elif fmt == "HEIF":
        options.update(quality=90)
    out = io.BytesIO()
    clean.save(out, fmt, **options)
    return out.getvalue()


# -- JPEG ------------------------------------------------------------------------------------------------------------

_SOI, _EOI, _SOS, _APP0, _APP2, _APP14, _COM = 0xD8, 0xD9, 0xDA, 0xE0, 0xE2, 0xEE, 0xFE


def _keep_jpeg_segment(marker: int, payload: bytes) -> bytes | None:
    """The segment's payload to write, or None to drop it."""
    if marker == _APP0:
        if payload.startswith(b"JFIF\0") and len(payload) >= 14:
            return payload[:12] + b"\0\0"  # density kept, embedded thumbnail dropped
        return None  # JFXX (thumbnails) and others
    if marker == _APP2:
        return payload if payload.startswith(b"ICC_PROFILE\0") else None  # MPF (preview images) dropped
    if marker == _APP14:
        return payload if payload.startswith(b"Adobe") else None  # colour transform: needed to decode
    if 0xE0 <= marker <= 0xEF or marker == _COM:
        return None  # EXIF, XMP, IPTC, vendor blocks, comments
    return payload  # tables, frame and scan headers, restart interval


def _jpeg(data: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise ValueError("no SOI")
    out = bytearray(b"\xff\xd8")
    pos, end = 2, len(data)
    while True:
        if pos >= end or data[pos] != 0xFF:
            raise ValueError("marker expected")
        while pos < end and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= end:
            raise ValueError("truncated")
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            out += b"\xff\xd9"
            return bytes(out)  # whatever follows (appended previews) is dropped
        if marker == _SOI or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            raise ValueError("unexpected standalone marker")
        if pos + 2 > end:
            raise ValueError("truncated")
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > end:
            raise ValueError("bad segment length")
        payload = data[pos + 2 : pos + length]
        pos += length
        kept = _keep_jpeg_segment(marker, payload)
        if kept is not None:
            out += bytes((0xFF, marker)) + struct.pack(">H", len(kept) + 2) + kept
        if marker == _SOS:
            scan_start = pos
            while True:  # entropy-coded data runs to the next marker that is not a stuffed 0 or a restart
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= end:
                    raise ValueError("scan not terminated")
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    pos += 2
                elif following == 0xFF:
                    pos += 1
                else:
                    break
            out += data[scan_start:pos]


# -- PNG -------------------------------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that draw the picture: critical ones, colour and transparency, animation (APNG). Text, eXIf, tIME,
# content credentials and private chunks are dropped.
_PNG_KEEP = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV",
    b"cLLI", b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
}


def _png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("no signature")
    out = bytearray(_PNG_SIGNATURE)
    pos, end = len(_PNG_SIGNATURE), len(data)
    while True:
        if pos + 12 > end:
            raise ValueError("truncated")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk_end = pos + 12 + length
        if chunk_end > end:
            raise ValueError("truncated chunk")
        if kind in _PNG_KEEP:
            out += data[pos:chunk_end]  # CRC included; Pillow checks it when decoding
        pos = chunk_end
        if kind == b"IEND":
            return bytes(out)


# -- WebP ------------------------------------------------------------------------------------------------------------

_WEBP_KEEP = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _webp(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not RIFF/WEBP")
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = 8 + riff_size
    if end > len(data):
        raise ValueError("truncated")
    body = bytearray(b"WEBP")
    pos = 12
    while pos < end:
        if pos + 8 > end:
            raise ValueError("truncated chunk header")
        kind = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        chunk_end = pos + 8 + size + (size & 1)
        if pos + 8 + size > end:
            raise ValueError("truncated chunk")
        if kind in _WEBP_KEEP:
            chunk = bytearray(data[pos:chunk_end])
            if kind == b"VP8X" and size >= 1:
                chunk[8] &= ~(_VP8X_EXIF | _VP8X_XMP) & 0xFF
            body += chunk
        pos = chunk_end
    return b"RIFF" + struct.pack("<I", len(body)) + bytes(body)


_FILTERS = {"image/jpeg": _jpeg, "image/png": _png, "image/webp": _webp}
