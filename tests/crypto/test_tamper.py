"""Stored ciphertexts are bound to their table, column and row: tampering or moving them fails loudly.

Every test stores data through the real API, edits the database behind the ORM's
back, and reads the row again in a fresh session (so no raw key is cached).
"""

from __future__ import annotations

import pytest

from app.crypto.cipher import HEADER_BYTES
from app.crypto.vault import FieldDecryptionError
from app.extensions import db
from app.reporters.models import Reporter
from tests.crypto.helpers import flip_byte, fresh_report, read_cell, submit_report, write_cell

POSITIONS = {
    "version": 0,
    "cipher": 1,
    "data-key-id": 2 + 7,
    "nonce": 18 + 5,
    "body": HEADER_BYTES + 3,
    "tag": -1,
}


@pytest.mark.parametrize("index", POSITIONS.values(), ids=POSITIONS.keys())
def test_one_flipped_byte_anywhere_in_a_stored_field_fails_with_an_error_naming_table_column_and_row(
    client, reporter, index
):
    report_id = submit_report(client, reporter)
    blob = read_cell("reports", "victim_data", report_id)
    write_cell("reports", "victim_data", report_id, flip_byte(blob, index))

    report = fresh_report(report_id)
    with pytest.raises(FieldDecryptionError, match=r"reports\.victim_data") as raised:
        report.section("victim")
    assert str(report_id) in str(raised.value)
    assert "小花" not in str(raised.value)
    # Only the damaged cell is lost; the other sections of the row still open.
    assert report.section("suspect")["relation"] == "邻居"


def test_a_truncated_stored_field_fails_to_decrypt(client, reporter):
    report_id = submit_report(client, reporter)
    blob = read_cell("reports", "incident_data", report_id)
    write_cell("reports", "incident_data", report_id, blob[:-1])

    with pytest.raises(FieldDecryptionError, match=r"reports\.incident_data"):
        fresh_report(report_id).section("incident")


def test_a_tampered_field_makes_the_reporters_api_view_fail_instead_of_answering(client, reporter):
    report_id = submit_report(client, reporter)
    blob = read_cell("reports", "victim_data", report_id)
    write_cell("reports", "victim_data", report_id, flip_byte(blob, HEADER_BYTES))

    with pytest.raises(FieldDecryptionError, match=r"reports\.victim_data"):
        client.get(f"/api/v1/reports/{report_id}", headers=reporter.headers)


def test_the_untampered_report_reads_back_through_the_api(client, reporter):
    report_id = submit_report(client, reporter, victim={"name": "小明"})
    db.session.remove()
    response = client.get(f"/api/v1/reports/{report_id}", headers=reporter.headers)
    assert response.status_code == 200, response.json
    assert response.json["victim"]["name"] == "小明"


def test_ciphertext_copied_from_report_a_into_report_b_fails_to_decrypt(client, reporter):
    a = submit_report(client, reporter, victim={"name": "甲"})
    b = submit_report(client, reporter, victim={"name": "乙"})
    write_cell("reports", "victim_data", b, read_cell("reports", "victim_data", a))

    with pytest.raises(FieldDecryptionError, match=r"reports\.victim_data") as raised:
        fresh_report(b).section("victim")
    assert str(b) in str(raised.value)
    assert fresh_report(a).section("victim")["name"] == "甲"


def test_ciphertext_moved_to_another_row_fails_even_when_both_rows_share_the_data_key(client, reporter):
    # The row id in the associated data is what stops this move, not the key-id check.
    a = submit_report(client, reporter, victim={"name": "甲"})
    b = submit_report(client, reporter, victim={"name": "乙"})
    write_cell("reports", "data_key_id", b, read_cell("reports", "data_key_id", a))
    write_cell("reports", "victim_data", b, read_cell("reports", "victim_data", a))

    with pytest.raises(FieldDecryptionError, match=r"reports\.victim_data"):
        fresh_report(b).section("victim")


def test_suspect_ciphertext_copied_into_the_victim_column_of_the_same_row_fails_to_decrypt(client, reporter):
    report_id = submit_report(client, reporter)
    write_cell("reports", "victim_data", report_id, read_cell("reports", "suspect_data", report_id))

    report = fresh_report(report_id)
    with pytest.raises(FieldDecryptionError, match=r"reports\.victim_data"):
        report.section("victim")
    assert report.section("suspect")["relation"] == "邻居"


def test_every_section_refuses_the_ciphertext_of_every_other_section_of_its_row(client, reporter):
    report_id = submit_report(client, reporter)
    sections = ("reporter", "victim", "incident", "suspect", "police")
    blobs = {name: read_cell("reports", f"{name}_data", report_id) for name in sections}
    # Rotate the five cells by one: every column now holds a neighbour's ciphertext.
    for name, source in zip(sections, sections[1:] + sections[:1], strict=True):
        write_cell("reports", f"{name}_data", report_id, blobs[source])

    report = fresh_report(report_id)
    for name in sections:
        with pytest.raises(FieldDecryptionError, match=rf"reports\.{name}_data"):
            report.section(name)


def test_openid_ciphertext_moved_to_another_reporter_fails_to_decrypt(app, reporter, other_reporter):
    write_cell("reporters", "openid_data", other_reporter.id, read_cell("reporters", "openid_data", reporter.id))

    db.session.remove()
    moved = db.session.get(Reporter, other_reporter.id)
    with pytest.raises(FieldDecryptionError, match=r"reporters\.openid_data") as raised:
        moved.unseal("openid_data")
    assert str(other_reporter.id) in str(raised.value)
    assert db.session.get(Reporter, reporter.id).unseal("openid_data") == "o-test-reporter"


def test_openid_ciphertext_moved_to_another_reporter_fails_even_with_the_same_data_key(
    app, reporter, other_reporter
):
    write_cell("reporters", "data_key_id", other_reporter.id, read_cell("reporters", "data_key_id", reporter.id))
    write_cell("reporters", "openid_data", other_reporter.id, read_cell("reporters", "openid_data", reporter.id))

    db.session.remove()
    with pytest.raises(FieldDecryptionError, match=r"reporters\.openid_data"):
        db.session.get(Reporter, other_reporter.id).unseal("openid_data")


def test_a_report_field_pasted_into_a_reporter_column_fails_to_decrypt(client, reporter):
    report_id = submit_report(client, reporter)
    write_cell("reporters", "data_key_id", reporter.id, read_cell("reports", "data_key_id", report_id))
    write_cell("reporters", "openid_data", reporter.id, read_cell("reports", "victim_data", report_id))

    db.session.remove()
    with pytest.raises(FieldDecryptionError, match=r"reporters\.openid_data"):
        db.session.get(Reporter, reporter.id).unseal("openid_data")
