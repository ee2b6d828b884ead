"""Photos lose their metadata at upload (GPS, device, owner), stay upright, and keep a digest of the original."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image, ImageOps
from pillow_heif import register_heif_opener
from sqlalchemy import func, select

from app.crypto.vault import get_vault
from app.extensions import db
from app.reports import attachments, photos
from app.reports.models import Attachment
from tests.factories import report_body

register_heif_opener()

MAKE, MODEL, ARTIST, SOFTWARE = "SecretPhoneMaker", "SecretModel-X9", "ZhangSanOwnerName", "SecretCamApp"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description>SecretXmpCreator</rdf:Description>' \
      b"</rdf:RDF></x:xmpmeta>"
SECRETS = (MAKE.encode(), MODEL.encode(), ARTIST.encode(), SOFTWARE.encode(), b"SecretXmpCreator", b"SecretComment")
GPS_IFD = 0x8825
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/heic": "HEIF"}


def camera_exif(orientation: int = 1) -> Image.Exif:
    """What a phone writes: where, with what, by whom, and how the camera was held."""
    exif = Image.Exif()
    exif[0x010F] = MAKE
    exif[0x0110] = MODEL
    exif[0x013B] = ARTIST
    exif[0x0131] = SOFTWARE
    exif[0x0112] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (39.0, 54.0, 27.0)
    gps[3], gps[4] = "E", (116.0, 23.0, 50.0)
    return exif


def two_colour_picture(size: tuple[int, int] = (40, 20)) -> Image.Image:
    """Left half red, right half blue: which way it is turned shows in its corners."""
    image = Image.new("RGB", size, (220, 20, 20))
    image.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    return image


def photo(content_type: str, orientation: int = 1) -> bytes:
    fmt = FORMATS[content_type]
    options: dict = {"exif": camera_exif(orientation)}
    if fmt in ("JPEG", "PNG", "WEBP", "HEIF"):
        options["xmp"] = XMP
    if fmt == "JPEG":
        options.update(comment=b"SecretComment", quality=95)
    if fmt == "WEBP":
        options.update(lossless=True)
    out = io.BytesIO()
    two_colour_picture().save(out, fmt, **options)
    data = out.getvalue()
    assert MAKE.encode() in data or fmt == "HEIF"  # the metadata really are in the upload
    return data


def upload(client, reporter, report_id, data: bytes, filename="IMG_0001.jpg"):
    return client.post(
        f"/api/v1/reports/{report_id}/attachments",
        data={"file": (io.BytesIO(data), filename, "application/octet-stream")},
        headers=reporter.headers, content_type="multipart/form-data",
    )


@pytest.fixture
def report_id(client, reporter):
    return client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json["id"]


def stored_blob(app) -> tuple[Attachment, bytes]:
    attachment = db.session.scalars(select(Attachment)).one()
    return attachment, attachments.open_blob(attachment, app.config["QZBG"].attachments_dir, get_vault())


def assert_no_metadata(blob: bytes) -> None:
    for secret in SECRETS:
        assert secret not in blob
    with Image.open(io.BytesIO(blob)) as image:
        if image.format != "HEIF":  # there "Exif" is also the name of the (emptied) item's type
            assert b"Exif\0\0" not in blob
        exif = image.getexif()
        assert dict(exif) == {}
        assert dict(exif.get_ifd(GPS_IFD)) == {}
        assert b"rdf:" not in (image.info.get("xmp") or b"")  # at most an empty XMP packet
        assert not image.info.get("comment")


@pytest.mark.parametrize("content_type", list(FORMATS))
def test_gps_device_and_owner_are_gone_from_the_stored_photo_and_the_digest_is_the_originals(
    app, client, reporter, report_id, content_type
):
    original = photo(content_type)

    response = upload(client, reporter, report_id, original)

    assert response.status_code == 201, response.json
    assert response.json["content_type"] == content_type
    attachment, blob = stored_blob(app)
    assert attachment.original_sha256 == hashlib.sha256(original).hexdigest()
    assert response.json["size"] == attachment.size == len(blob)
    assert_no_metadata(blob)
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(blob)) as after:
        assert after.size == before.size
        assert after.tobytes() == before.tobytes()  # filtered losslessly: the very same pixels


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "image/webp"])
def test_a_photo_taken_turned_is_stored_upright_without_its_orientation_tag(
    app, client, reporter, report_id, content_type
):
    original = photo(content_type, orientation=6)  # camera held on its side: "turn 90° clockwise to view"
    with Image.open(io.BytesIO(original)) as shown:
        upright = ImageOps.exif_transpose(shown).convert("RGB")
    assert upright.size == (20, 40)

    assert upload(client, reporter, report_id, original).status_code == 201

    attachment, blob = stored_blob(app)
    assert attachment.original_sha256 == hashlib.sha256(original).hexdigest()
    assert_no_metadata(blob)
    with Image.open(io.BytesIO(blob)) as stored:
        assert stored.size == (20, 40)
        stored_rgb = stored.convert("RGB")
        for corner in ((1, 1), (18, 38)):
            want, got = upright.getpixel(corner), stored_rgb.getpixel(corner)
            assert max(abs(a - b) for a, b in zip(want, got, strict=True)) < 40, (corner, want, got)


def test_a_heic_photo_keeps_its_picture_bytes_and_loses_its_metadata_in_place(app, client, reporter, report_id):
    original = photo("image/heic", orientation=6)
    with Image.open(io.BytesIO(original)) as shown:
        decoded = shown.size  # libheif applies the container's rotation and mirroring, which stay

    assert upload(client, reporter, report_id, original, "IMG_0001.HEIC").status_code == 201

    _attachment, blob = stored_blob(app)
    assert_no_metadata(blob)
    assert len(blob) == len(original)  # overwritten in place: no offset moved, nothing re-encoded
    with Image.open(io.BytesIO(blob)) as stored:
        assert stored.format == "HEIF"
        assert stored.size == decoded


def test_a_heic_the_filter_does_not_understand_is_re_encoded_without_metadata(app, client, reporter, report_id,
                                                                             monkeypatch):
    def unsupported(data: bytes) -> bytes:
        raise photos._Unsupported

    monkeypatch.setattr(photos, "_heic", unsupported)
    original = photo("image/heic")

    assert upload(client, reporter, report_id, original, "IMG_0001.HEIC").status_code == 201

    _attachment, blob = stored_blob(app)
    assert_no_metadata(blob)
    with Image.open(io.BytesIO(blob)) as stored:
        assert stored.format == "HEIF"
        assert stored.size == (40, 20)
        assert stored.convert("RGB").getpixel((2, 2))[0] > 150  # re-encoded: still the red half


def test_preview_images_appended_after_a_jpeg_and_its_thumbnail_are_dropped(app, client, reporter, report_id):
    out = io.BytesIO()
    two_colour_picture().save(out, "JPEG", exif=camera_exif())
    original = out.getvalue() + b"\xff\xd8SecretAppendedPreview\xff\xd9"

    assert upload(client, reporter, report_id, original).status_code == 201

    _attachment, blob = stored_blob(app)
    assert b"SecretAppendedPreview" not in blob
    assert blob.endswith(b"\xff\xd9")
    assert_no_metadata(blob)


BROKEN = {
    "jpeg header, then text": b"\xff\xd8\xff\xe0" + "这不是照片，只是文字。".encode() * 8,
    "png signature, then zeros": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    "webp header, then zeros": b"RIFF\x40\x00\x00\x00WEBPVP8 " + b"\x00" * 64,
    "heic brand, then zeros": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
}


@pytest.mark.parametrize("data", list(BROKEN.values()), ids=list(BROKEN))
def test_a_file_that_claims_to_be_an_image_but_does_not_decode_is_refused_and_nothing_is_stored(
    app, client, reporter, report_id, data
):
    response = upload(client, reporter, report_id, data)

    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert response.json["error"]["fields"] == {"file": [attachments.UNDECODABLE_IMAGE]}
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    directory = app.config["QZBG"].attachments_dir
    assert not directory.exists() or list(directory.iterdir()) == []


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png"])
def test_a_truncated_photo_is_refused(app, client, reporter, report_id, content_type):
    out = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(out, FORMATS[content_type])
    response = upload(client, reporter, report_id, out.getvalue()[: len(out.getvalue()) // 2])

    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"file": [attachments.UNDECODABLE_IMAGE]}
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_an_image_with_more_pixels_than_a_photo_is_refused(app, client, reporter, report_id, monkeypatch):
    monkeypatch.setattr(photos, "MAX_PIXELS", 100)
    response = upload(client, reporter, report_id, photo("image/png"))

    assert response.status_code == 422
    assert "像素" in response.json["error"]["fields"]["file"][0]
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_other_files_are_stored_as_sent_with_the_digest_of_their_bytes(app, client, reporter, report_id):
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Author (ZhangSan)>>endobj\ntrailer<<>>\n%%EOF\n"

    assert upload(client, reporter, report_id, pdf, "病历.pdf").status_code == 201

    attachment, blob = stored_blob(app)
    assert blob == pdf
    assert attachment.original_sha256 == hashlib.sha256(pdf).hexdigest()


def test_a_heic_with_a_thumbnail_and_a_second_image_loses_every_exif_item_in_place(app, client, reporter, report_id):
    first, second = two_colour_picture((96, 64)), two_colour_picture((48, 32))
    out = io.BytesIO()
    first.save(out, "HEIF", exif=camera_exif(), xmp=XMP, save_all=True, thumbnails=[32],
               append_images=[second], exif_for_all=True)
    original = out.getvalue()
    assert original.count(MAKE.encode()) >= 1

    assert upload(client, reporter, report_id, original, "IMG_0002.HEIC").status_code == 201

    _attachment, blob = stored_blob(app)
    assert len(blob) == len(original)
    assert_no_metadata(blob)
    with Image.open(io.BytesIO(blob)) as stored, Image.open(io.BytesIO(original)) as before:
        assert stored.n_frames == 2
        for frame in range(2):
            stored.seek(frame)
            before.seek(frame)
            assert dict(stored.getexif()) == {}
            assert stored.tobytes() == before.tobytes()


def test_a_hostile_heic_index_with_zero_width_fields_is_refused_quickly():
    import struct

    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I4s", len(body) + 8, kind) + body

    # 60,000 items of 65,535 zero-width extents each: billions of loop turns if nothing stopped them.
    iloc = bytes(4) + b"\0\0" + struct.pack(">H", 60000) + struct.pack(">HHH", 1, 0, 65535) * 60000
    meta = box(b"meta", bytes(4) + box(b"hdlr", bytes(20)) + box(b"iloc", iloc) + box(b"iinf", bytes(6)))
    data = box(b"ftyp", b"heic" + bytes(4) + b"mif1") + meta

    with pytest.raises(photos.Undecodable):
        photos.strip_metadata("image/heic", data)


@pytest.mark.parametrize("content_type", list(FORMATS))
def test_damaged_photos_are_either_cleaned_or_refused_never_an_unexpected_error(content_type):
    import random

    original = photo(content_type)
    rng = random.Random(f"qzbg-{content_type}")
    outcomes = {"cleaned": 0, "refused": 0}
    for _ in range(60):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if rng.random() < 0.3:
            damaged = damaged[: rng.randrange(8, len(damaged))]
        try:
            cleaned = photos.strip_metadata(content_type, bytes(damaged))
        except (photos.Undecodable, photos.TooManyPixels):
            outcomes["refused"] += 1
        else:
            outcomes["cleaned"] += 1
            assert MAKE.encode() not in cleaned
            assert ARTIST.encode() not in cleaned
    print(content_type, outcomes)
