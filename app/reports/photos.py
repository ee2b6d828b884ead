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
- HEIC keeps its metadata as items of the container (an ``Exif`` item, XMP
  as a ``mime`` item): their bytes are overwritten in place with an empty EXIF
  block and an empty XMP packet, so every offset stays valid and the picture
  is not re-encoded (an HEVC encode of a 12 MP photo takes a minute here).
  Its rotation and mirroring are container properties, applied by every
  decoder, and stay. A HEIC this filter does not understand (an item built
  from other items, a sequence) is decoded with pillow-heif and re-encoded at
  quality 90 (x265's fastest preset) instead, keeping only the primary image
  and its colour profile.

Every result is decoded once more in full: a file that claims to be an image
and does not decode is refused (``Undecodable``), so nothing unreadable is
kept as evidence and nothing unparsed is passed on to the staff's browsers.

No sealed original is kept (see ``attachments.store``): the SHA-256 of the
bytes as uploaded is recorded instead.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from typing import Any

from PIL import Image, ImageOps

# More pixels than any phone photo has: refused before decoding (Pillow itself stops at 179 M; a 200 MP
# phone sensor writes 12-50 MP pictures by default).
MAX_PIXELS = 120_000_000
_ORIENTATION = 0x0112
_GPS_IFD = 0x8825

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic")


class Undecodable(Exception):
    """The bytes look like an image but do not decode as one."""


class TooManyPixels(Exception):
    """The image decodes to more pixels than a photo has."""


class _Unsupported(Exception):
    """A structure the lossless filter does not handle: re-encode instead."""


def strip_metadata(content_type: str, data: bytes) -> bytes:
    """The picture without its metadata, upright. Raises ``Undecodable`` or ``TooManyPixels``."""
    fmt = _PIL_FORMATS[content_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS decides
            in_place = _heic_in_place(data) if fmt == "HEIF" else None  # checked already
            if in_place is not None:
                cleaned = in_place
            else:
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


@functools.cache
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
    # No EXIF, XMP, comments or text travel with the pixels; a palette's transparent entry does.
    clean.info = {key: value for key, value in upright.info.items() if key == "transparency"}
    options: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        if clean.mode not in ("RGB", "L", "CMYK"):
            clean = clean.convert("RGB")
        options.update(quality=95)
    elif fmt == "WEBP":
        options.update(lossless=True)
    elif fmt == "HEIF":
        # x265's fastest preset: six times faster than its default, for somewhat larger files.
        options.update(quality=90, enc_params={"preset": "ultrafast"})
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


# -- HEIC (ISO base media file format, HEIF items) -------------------------------------------------------------------

# An EXIF item: 4-byte offset to the TIFF header, then a TIFF header with an empty first directory.
_EMPTY_EXIF_ITEM = b"\0\0\0\0" + b"MM\0*\0\0\0\x08" + b"\0\0" + b"\0\0\0\0"
_EMPTY_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
_MAX_ITEMS = 10_000  # a photo has a few dozen items (tiles of a grid, thumbnail, depth map, metadata)


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes between start and end."""
    found = []
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise ValueError("truncated box")
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise ValueError("truncated box")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError("bad box size")
        found.append((kind, pos + header, pos + size))
        pos += size
    return found


def _uint(data: bytes, pos: int, size: int) -> int:
    if size == 0:
        return 0
    if pos + size > len(data):
        raise ValueError("truncated")
    return int.from_bytes(data[pos : pos + size], "big")


def _metadata_items(data: bytes, start: int, end: int) -> dict[int, bytes]:
    """item_ID -> what to write over it, for the EXIF and XMP (or other mime) items listed in iinf."""
    version = data[start]
    pos = start + 4
    count_size = 2 if version == 0 else 4
    pos += count_size
    items: dict[int, bytes] = {}
    for kind, body, box_end in _boxes(data, pos, end):
        if kind != b"infe":
            continue
        infe_version = data[body]
        if infe_version < 2:
            raise _Unsupported  # old-style entries: rare, and not written by phones
        id_size = 2 if infe_version == 2 else 4
        item_id = _uint(data, body + 4, id_size)
        item_type = data[body + 4 + id_size + 2 : body + 4 + id_size + 6]
        if item_type == b"Exif":
            items[item_id] = _EMPTY_EXIF_ITEM
        elif item_type in (b"mime", b"uri "):
            # item_name, then (mime) content_type, each NUL-terminated
            strings = data[body + 4 + id_size + 6 : box_end].split(b"\0")
            content_type = strings[1].lower() if len(strings) > 1 else b""
            items[item_id] = _EMPTY_XMP if b"xml" in content_type else b""
    return items


def _heic_in_place(data: bytes) -> bytes | None:
    """The HEIC with its metadata items emptied, or None where that did not work: a structure the filter
    does not handle, or a result that does not decode or still shows metadata to pillow-heif."""
    try:
        cleaned = _heic(data)
        _check_decodes(cleaned, "HEIF")
        with _open(cleaned, "HEIF") as image:
            exif = image.getexif()
            left = dict(exif) or dict(exif.get_ifd(_GPS_IFD)) or b"rdf:" in (image.info.get("xmp") or b"")
    except TooManyPixels:
        raise
    except Exception:  # noqa: BLE001 - any failure here means: re-encode instead
        return None
    return None if left else cleaned


def _heic(data: bytes) -> bytes:
    """Overwrite the metadata items' bytes in place; raise ``_Unsupported`` where that is not possible."""
    top = _boxes(data, 0, len(data))
    metas = [(body, end) for kind, body, end in top if kind == b"meta"]
    if len(metas) != 1 or any(kind == b"moov" for kind, _b, _e in top):
        raise _Unsupported  # no item metadata, or an image sequence
    meta_start, meta_end = metas[0]
    children = {kind: (body, end) for kind, body, end in _boxes(data, meta_start + 4, meta_end)}
    if b"iinf" not in children or b"iloc" not in children:
        raise _Unsupported
    targets = _metadata_items(data, *children[b"iinf"])
    idat_start = children[b"idat"][0] if b"idat" in children else None
    out = bytearray(data)
    pos, _iloc_end = children[b"iloc"]
    version = data[pos]
    pos += 4
    offset_size, length_size = data[pos] >> 4, data[pos] & 0x0F
    base_offset_size, index_size = data[pos + 1] >> 4, (data[pos + 1] & 0x0F if version in (1, 2) else 0)
    pos += 2
    item_count = _uint(data, pos, 2 if version < 2 else 4)
    pos += 2 if version < 2 else 4
    if item_count > _MAX_ITEMS:
        raise _Unsupported
    extents_seen = 0
    for _ in range(item_count):
        item_id = _uint(data, pos, 2 if version < 2 else 4)
        pos += 2 if version < 2 else 4
        method = 0
        if version in (1, 2):
            method = _uint(data, pos, 2) & 0x0F
            pos += 2
        pos += 2  # data_reference_index
        base = _uint(data, pos, base_offset_size)
        pos += base_offset_size
        extent_count = _uint(data, pos, 2)
        pos += 2
        extents_seen += extent_count
        if extents_seen > _MAX_ITEMS:
            raise _Unsupported  # zero-width fields could make a few bytes loop for minutes
        extents = []
        for _ in range(extent_count):
            pos += index_size
            offset = _uint(data, pos, offset_size)
            pos += offset_size
            length = _uint(data, pos, length_size)
            pos += length_size
            extents.append((offset, length))
        if item_id not in targets:
            continue
        if method == 0:
            origin = base
        elif method == 1 and idat_start is not None:
            origin = base + idat_start
        else:
            raise _Unsupported  # an item built from other items
        spans = [(origin + offset, length) for offset, length in extents]
        if any(length == 0 or start + length > len(data) for start, length in spans):
            raise _Unsupported
        total = sum(length for _start, length in spans)
        replacement = targets[item_id]
        if len(replacement) > total:
            raise _Unsupported
        filler = b" " if replacement.startswith(b"<") else b"\0"
        replacement = replacement + filler * (total - len(replacement))
        written = 0
        for start, length in spans:
            out[start : start + length] = replacement[written : written + length]
            written += length
    return bytes(out)


_FILTERS = {"image/jpeg": _jpeg, "image/png": _png, "image/webp": _webp}
