"""/timeline's picture end to end: the real bot through the strict Bot API stub sends the text, then the
chart as a photo (a real PNG, a caption within Telegram's limits); when drawing or sending the picture
fails, the text answer has gone out all the same."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bot_harness import USER, Harness, running_harness

from newsqa.bot import timeline_chart
from newsqa.index.text.article import Article

MARCH = int(dt.datetime(2023, 3, 15, 12, tzinfo=dt.UTC).timestamp())
TOPIC = "/timeline harbour bridge toll"


@pytest.fixture
async def h(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Harness]:
    async with running_harness(tmp_path, caplog) as harness:
        harness.index(
            [
                _toll("first", "2022-11-20", "three", "Harbour Post"),
                _toll("second", "2023-03-01", "four", "City Daily"),
                _toll("undated", None, "many", "Letters"),
            ]
        )
        yield harness


def _toll(aid: str, day: str | None, pounds: str, source: str) -> Article:
    return Article(
        id=aid,
        title=f"Harbour bridge toll: {pounds}",
        text=f"The harbour bridge toll was raised to {pounds} pounds by the council.",
        published=day,
        source=source,
    )


def photos(h: Harness) -> list:  # type: ignore[type-arg]
    return h.stub.sent(USER, methods=("sendPhoto",))


async def test_timeline_sends_the_text_then_the_chart(h: Harness) -> None:
    from PIL import Image

    await h.start()
    (text,) = await h.say(USER, TOPIC, date=MARCH)
    (photo,) = await h.stub.await_for(lambda: photos(h), timeout=60, what="the chart")
    assert "Timeline" in text.text and photo.message_id > text.message_id  # after the text
    assert photo.content is not None and photo.content.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(photo.content)) as image:
        assert image.size == (photo.photo[0]["width"], photo.photo[0]["height"]) and image.size[0] == 1000
    assert photo.text == (
        "Timeline: harbour bridge toll — 2 dated articles, counted by week; 1 undated (in the text only)"
    )
    styled = {e["type"]: photo.text[e["offset"] : e["offset"] + e["length"]] for e in photo.entities}
    assert styled == {"bold": "Timeline", "italic": "harbour bridge toll"}
    assert (USER, "upload_photo") in h.stub.chat_actions


async def test_a_chart_that_cannot_be_drawn_leaves_the_text_answer(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(plot: object) -> bytes:
        raise RuntimeError("no fonts today")

    monkeypatch.setattr(timeline_chart, "draw", broken)
    await h.start()
    (text,) = await h.say(USER, TOPIC, date=MARCH)
    assert "Timeline" in text.text and "three pounds" in text.text
    await h.stub.await_for(lambda: "could not draw the timeline chart" in caplog.text, what="the warning")
    assert photos(h) == []
    (again,) = await h.say(USER, TOPIC, date=MARCH)  # and the bot goes on answering
    assert "Timeline" in again.text


async def test_a_refused_photo_leaves_the_text_answer(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    h.stub.fail_next("sendPhoto", error_code=400)
    await h.start()
    (text,) = await h.say(USER, TOPIC, date=MARCH)
    assert "Timeline" in text.text
    await h.stub.await_for(
        lambda: "could not send the timeline chart" in caplog.text, timeout=60, what="the warning"
    )
    assert photos(h) == [] and [r.levelno for r in caplog.records if "timeline chart" in r.getMessage()] == [
        logging.WARNING
    ]


async def test_no_chart_without_dated_evidence(h: Harness) -> None:
    await h.start()
    (text,) = await h.say(USER, "/timeline volcanic eruptions on the moon", date=MARCH)
    assert "Not found" in text.text
    (usage,) = await h.say(USER, "/timeline")  # the next reply comes, and no photo came before it
    assert "/timeline" in usage.text and photos(h) == []
