"""Every kind of staff message fits its channels' limits: the SMS template's first value (12 characters), WeCom's
text card (title 128 bytes, description 512 bytes), and always carries the tracking number, the time and the link."""

from __future__ import annotations

import datetime as dt

import pytest

from app.notify import messages

AT = dt.datetime(2026, 11, 20, 2, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("kind", sorted(messages.EVENTS))
@pytest.mark.parametrize("urgent", [False, True])
def test_each_kind_fits_every_channel(kind, urgent):
    digest = kind == "daily_digest"
    facts = messages.Facts(
        kind=kind, at=AT, link="https://qzbg.example.org/review/reports/x", urgent=urgent,
        tracking_no=None if digest else "QZBG-2026-000073", step=3, minutes=95,
        counts=(("unacknowledged", 12), ("assigned", 3), ("overdue", 1)) if digest else (),
    )
    rendered = messages.render(facts)
    card = messages.wecom_card(rendered, facts)
    assert len(rendered.sms_params[0]) <= 12
    assert len(rendered.sms_params) == 3
    assert len(card["title"].encode()) <= 128
    assert len(card["description"].encode()) <= 512
    assert "2026-11-20 10:30" in rendered.text  # China Standard Time
    assert rendered.sms_params[2] == "11-20 10:30"
    assert facts.link in rendered.text
    assert facts.link in rendered.html
    if not digest:
        assert "QZBG-2026-000073" in rendered.title
        assert rendered.sms_params[1] == "QZBG-2026-000073"
    assert "紧急紧急" not in rendered.title + rendered.sms_params[0]
