"""Recognise an attachment's type from its first bytes, never from its name or declared type."""

from __future__ import annotations

SNIFF_BYTES = 64

# ISO base media (ftyp) brands, by what the file is.
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_M4A_BRANDS = {b"M4A ", b"M4B ", b"F4A "}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"M4V ", b"MSNV", b"dash", b"3gp4", b"3gp5", b"qt  ",
}

EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "video/mp4": "mp4",
    "audio/mp4": "m4a",
    "audio/aac": "aac",
    "audio/mpeg": "mp3",
    "audio/amr": "amr",
    "application/pdf": "pdf",
}


def sniff(head: bytes) -> str | None:
    """The MIME type of an accepted format, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"#!AMR\n") or head.startswith(b"#!AMR-WB\n"):
        return "audio/amr"
    if head.startswith(b"ID3") or (len(head) > 2 and head[0] == 0xFF and head[1] in (0xFB, 0xF3, 0xF2)):
        return "audio/mpeg"
    if len(head) > 2 and head[0] == 0xFF and head[1] in (0xF1, 0xF9):
        return "audio/aac"  # ADTS
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return "image/heic"
        if brand in _M4A_BRANDS:
            return "audio/mp4"
        if brand in _MP4_BRANDS:
            return "video/mp4"
    return None
