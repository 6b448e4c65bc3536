"""Hardening: what a hostile or careless client can send the bot (oversized numbers in button data, long
file names) and what the bot must never log (its token), checked in the pure parts and end to end."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bot_harness import ADMIN, USER, Harness, bold, logged_text, running_harness

from newsqa.bot import buttons
from newsqa.bot.redact import MASK, redacting
from newsqa.bot.uploads import MAX_NAME_BYTES, TEMP_NAME_BYTES, load_upload, safe_name, shorten
from newsqa.index.text.article import Article


@pytest.fixture
async def h(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Harness]:
    async with running_harness(tmp_path, caplog) as harness:
        yield harness


# -- button data past SQLite's 64-bit integers ------------------------------------------------------------


def test_button_numbers_past_64_bits_are_not_decoded() -> None:
    biggest = 2**63 - 1
    assert buttons.decode(f"c:{biggest}") == buttons.Context(biggest)
    assert buttons.decode(f"m:{biggest}:{biggest}") == buttons.More(biggest, biggest)
    for data in (f"c:{2**63}", "s:9999999999999999999", f"m:1:{2**63}", f"m:{2**64 - 1}:0"):
        assert buttons.decode(data) is None, data  # stale-button note, not OverflowError at every tap
    for data in ("c:²", "s:٣", "m:1:¹"):  # digits to str.isdigit, yet not numbers this bot wrote
        assert buttons.decode(data) is None, data


# -- upload names past the file system's 255 bytes ---------------------------------------------------------


def test_long_upload_names_are_shortened_for_the_temp_file_and_the_id() -> None:
    for name in ("n" * 300 + ".txt", "é" * 200 + ".md", "🦓" * 70 + ".TXT"):
        short = safe_name(name)
        assert len(short.encode()) <= TEMP_NAME_BYTES and short.lower().endswith(Path(name).suffix.lower())
        (article,) = load_upload(name, b"Zebra news\nThree zebras escaped from the city zoo on Friday.\n")
        assert isinstance(article, Article), article
        assert article.id.startswith("telegram:") and len(article.id.encode()) <= len("telegram:") + 255
        assert article.origin == name
    assert shorten("a" * 300 + ".txt") != shorten("a" * 301 + ".txt")  # a digest keeps them apart
    assert shorten("a" * 300 + ".txt") == shorten("a" * 300 + ".txt")  # and re-uploads replace
    assert len(shorten("ü" * 300).encode()) <= MAX_NAME_BYTES  # cut between characters, never inside
    assert shorten("short.txt") == "short.txt"


async def test_an_upload_with_a_name_past_255_bytes_is_indexed(h: Harness) -> None:
    await h.start()
    name = "Zebras escaped " + "é" * 150 + ".txt"  # 315 bytes in UTF-8
    before = len(h.sends(ADMIN))
    h.stub.push_document(ADMIN, name, b"Zoo news\nThree zebras escaped from the city zoo on Friday.\n")
    (added,) = await h.replies(ADMIN, before)
    assert added.text.startswith("Added: 1 added"), added.text
    (answer,) = await h.say(ADMIN, "How many zebras escaped from the city zoo?")
    assert bold(answer)[0] == "Three zebras escaped from the city zoo on Friday."


# -- the token in PTB's debug lines -------------------------------------------------------------------------


async def test_run_bot_masks_the_token_in_debug_logs_without_serve(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """`run_bot` alone (no `newsqa serve`, so no handler filters), everything at DEBUG, httpx included."""
    caplog.set_level(logging.DEBUG)
    await h.start()
    for name in ("httpx", "httpcore", "telegram"):
        logging.getLogger(name).setLevel(logging.DEBUG)  # someone debugging the bot's requests
    try:
        await h.say(USER, "/start")
    finally:
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger("telegram").setLevel(logging.NOTSET)
    text = logged_text(caplog)
    assert h.stub.token not in text and h.stub.token.split(":")[1] not in text
    assert f"Set Bot API URL: {h.stub.base_url}{MASK}" in text  # PTB's line was there, masked
    assert f"/bot{MASK}/getUpdates" in text  # and httpx's request lines


def test_redacting_masks_records_made_anywhere_while_active() -> None:
    token = "4242:SECRET-token"
    made: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            made.append(record)

    log = logging.getLogger("newsqa.test.redact")
    log.propagate, log.level = False, logging.DEBUG
    log.addHandler(Keep())  # a handler no filter was ever added to
    with redacting(token), redacting("other:token"):
        log.debug("GET https://api.telegram.org/bot%s/getMe", token)
        try:
            raise RuntimeError(f"no route to /bot{token}/getMe")
        except RuntimeError:
            log.exception("failed")
    log.debug("after: %s", token)  # outside: left alone (the bot is gone)
    assert [r.getMessage() for r in made[:2]] == [f"GET https://api.telegram.org/bot{MASK}/getMe", "failed"]
    assert made[1].exc_text is not None and token not in made[1].exc_text and MASK in made[1].exc_text
    assert made[2].getMessage() == f"after: {token}"
