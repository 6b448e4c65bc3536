"""The Bot API stub, driven by the real python-telegram-bot: if PTB and the stub disagree, these fail.

Also the reference for end-to-end tests: see ``test_application_answers_a_pushed_message_and_a_button_tap``.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from botapi_stub import (
    BotApiStub,
    application_builder,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
    running_application,
)
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

CHAT = 4242  # a private chat: its id is the user's id


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub() as running:
        running.push_message(CHAT, "/start")  # the user opened the chat, so the bot may write to it
        yield running


@pytest.fixture
async def bot(stub: BotApiStub) -> AsyncIterator[Bot]:
    async with Bot(stub.token, base_url=stub.base_url, base_file_url=stub.base_file_url) as client:
        yield client


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"button {d}", callback_data=d) for d in data]])


# ---------------------------------------------------------------- basics


async def test_get_me_is_the_configured_bot_and_a_wrong_token_is_unauthorized(
    stub: BotApiStub, bot: Bot
) -> None:
    me = await bot.get_me()
    assert (me.username, me.is_bot, me.id) == ("newsqa_test_bot", True, 123456789)
    impostor = Bot("123456789:wrong", base_url=stub.base_url)
    with pytest.raises(InvalidToken, match="rejected by the server"):
        await impostor.initialize()
    await impostor.shutdown()
    assert [(e.method, e.error_code) for e in stub.errors] == [("getMe", 401)]


def test_http_surface_unknown_methods_case_and_body_encodings(stub: BotApiStub) -> None:
    api = f"{stub.base_url}{stub.token}"
    unknown = httpx.post(f"{api}/sendPigeon", json={})
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert httpx.get(f"{api}/GETME").json()["result"]["username"] == "newsqa_test_bot"
    as_json = httpx.post(
        f"{api}/sendMessage", json={"chat_id": CHAT, "text": "<i>j</i>", "parse_mode": "HTML"}
    )
    as_query = httpx.get(f"{api}/sendMessage", params={"chat_id": str(CHAT), "text": "q"})
    assert as_json.json()["result"]["entities"] == [{"type": "italic", "offset": 0, "length": 1}]
    assert as_query.json()["result"]["text"] == "q"
    assert [o.message_id for o in stub.sent(CHAT)] == [2, 3]  # message 1 is the user's /start


# ---------------------------------------------------------------- sendMessage formatting


async def test_html_message_records_plain_text_entities_and_markup(stub: BotApiStub, bot: Bot) -> None:
    text = '<b>Answer</b> &amp; <a href="https://ex.com/a?b=1&amp;c=2">source</a>\n<i>“quoted” 😀</i>'
    sent = await bot.send_message(
        CHAT,
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard("more:1"),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    assert sent.text == "Answer & source\n“quoted” 😀"
    assert sent.from_user is not None and sent.from_user.username == "newsqa_test_bot"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 6),
        ("text_link", 9, 6),
        ("italic", 16, 11),  # 😀 is 2 UTF-16 units
    ]
    assert sent.entities[1].url == "https://ex.com/a?b=1&c=2"
    (record,) = stub.sent(CHAT)
    assert (record.method, record.message_id, record.text, record.parse_mode) == (
        "sendMessage",
        sent.message_id,
        sent.text,
        "HTML",
    )
    assert record.callback_data == ["more:1"]
    assert stub.errors == []


async def test_markdown_v2_message_is_parsed_and_unescaped_reserved_chars_are_refused(
    stub: BotApiStub, bot: Bot
) -> None:
    sent = await bot.send_message(
        CHAT, r"*Score* 2\-1 \(final\)\. See [here](https://e.com)", parse_mode="MarkdownV2"
    )
    assert sent.text == "Score 2-1 (final). See here"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 5), ("text_link", 23, 4)]
    with pytest.raises(BadRequest, match=r"(?i)Character '\.' is reserved and must be escaped"):
        await bot.send_message(CHAT, "Score 2.1", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)Can't find end of Bold entity at byte offset 0"):
        await bot.send_message(CHAT, "*open", parse_mode="MarkdownV2")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("x & y", 'Unescaped "&" at byte offset 2'),
        ("&nbsp;", 'Unsupported HTML entity "&nbsp;" at byte offset 0'),
        ("<a>x</a>", 'Tag "a" must have attribute "href"'),
        ('<a href="javascript:alert(1)">x</a>', "Invalid URL"),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<b class="big">x</b>', 'Unsupported attribute "class" in the tag "b"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("é<br>", 'Unsupported start tag "br" at byte offset 2'),  # byte offsets, not characters
    ],
)
async def test_malformed_html_is_rejected_like_telegram(
    stub: BotApiStub, bot: Bot, text: str, reason: str
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(CHAT, text, parse_mode=ParseMode.HTML)
    # PTB capitalize()s the message (lowercasing the rest); the stub keeps Telegram's exact text.
    (error,) = stub.errors
    assert error.method == "sendMessage" and error.error_code == 400
    assert error.description.startswith("Bad Request: can't parse entities: ")
    assert reason in error.description
    assert stub.sent() == []


async def test_length_is_counted_after_parsing_in_utf16_units(stub: BotApiStub, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "a" * 4097)
    wrapped = await bot.send_message(CHAT, "<b>" + "a" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    assert wrapped.text is not None and len(wrapped.text) == 4096
    await bot.send_message(CHAT, "😀" * 2048)  # 2048 characters, 4096 UTF-16 units
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "😀" * 2048 + "a")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CHAT, "<b> </b>\n", parse_mode=ParseMode.HTML)  # trimmed to nothing
    assert len(stub.sent(CHAT)) == 2


async def test_keyboards_are_validated(stub: BotApiStub, bot: Bot) -> None:
    await bot.send_message(CHAT, "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "long", reply_markup=keyboard("x" * 65))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "bytes", reply_markup=keyboard("é" * 33))  # 33 chars, 66 bytes
    bad_url = InlineKeyboardMarkup([[InlineKeyboardButton("open", url="ftp://ex.com")]])
    with pytest.raises(BadRequest, match=r"(?i)button URL 'ftp://ex.com' is invalid"):
        await bot.send_message(CHAT, "url", reply_markup=bad_url)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999, "nobody there")
    assert len(stub.errors) == 4


# ---------------------------------------------------------------- edits, callbacks, commands


async def test_edits_callbacks_and_not_modified(stub: BotApiStub, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "<b>v1</b>", parse_mode="HTML", reply_markup=keyboard("a", "b"))
    query_id = stub.push_callback(CHAT, sent.message_id, "b")
    with pytest.raises(ValueError, match="no button with callback_data 'zzz'"):
        stub.push_callback(CHAT, sent.message_id, "zzz")
    assert stub.unanswered_callbacks() == [query_id]
    assert await bot.answer_callback_query(query_id, text="Loading…")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)  # answered twice: visible in errors
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>v1</b>", CHAT, sent.message_id, parse_mode="HTML", reply_markup=keyboard("a", "b")
        )
    await bot.edit_message_text("v2", CHAT, sent.message_id)  # no reply_markup: the keyboard goes away
    current = stub.message(CHAT, sent.message_id)
    assert current is not None and current["text"] == "v2" and "reply_markup" not in current
    assert [o.method for o in stub.sent(CHAT)] == ["sendMessage", "editMessageText"]
    assert stub.callback_answers[0]["text"] == "Loading…"
    assert [e.description.split(":")[1].strip() for e in stub.errors] == [
        "query is too old and response timeout expired or query ID is invalid",
        "message is not modified",
    ]


async def test_commands_chat_actions_and_blocked_users(stub: BotApiStub, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("ask", "Ask a question"), BotCommand("sources", "List sources")])
    assert [c["command"] for c in stub.commands] == ["ask", "sources"]
    assert [c.command for c in await bot.get_my_commands()] == ["ask", "sources"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Ask", "capitals are not allowed")])
    await bot.send_chat_action(CHAT, "typing")
    assert stub.chat_actions == [(CHAT, "typing")]
    stub.block_chat(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hello?")


async def test_injected_failures(stub: BotApiStub, bot: Bot) -> None:
    stub.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "flood")
    retry_after = caught.value.retry_after
    assert retry_after in (3, dtm.timedelta(seconds=3))
    stub.fail_next("sendMessage", error_code=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(CHAT, "gateway")
    await bot.send_message(CHAT, "through")
    assert [o.text for o in stub.sent(CHAT)] == ["through"]
    assert [e.error_code for e in stub.injected] == [429, 502] and stub.errors == []
    stub.fail_next("sendMessage", error_code=None, delay=0.6)  # slow, not failing: Telegram still sends it
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "slow", read_timeout=0.2)
    late = await stub.await_messages(CHAT, 2, timeout=3)
    assert late[-1].text == "slow"


# ---------------------------------------------------------------- updates and files


async def test_webhook_blocks_polling_until_deleted(stub: BotApiStub, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)an https url must be provided"):
        await bot.set_webhook("http://example.com/hook")
    await bot.set_webhook("https://example.com/hook")
    assert (await bot.get_webhook_info()).url == "https://example.com/hook"
    with pytest.raises(Conflict, match="while webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook(drop_pending_updates=True)
    assert stub.pending_updates() == [] and await bot.get_updates(timeout=0) == ()


def test_timeouts_report_what_the_bot_did(stub: BotApiStub) -> None:
    with pytest.raises(TimeoutError, match=r"(?s)waiting for 1 message\(s\) to chat 4242.*sent:.*errors:"):
        stub.wait_for_messages(CHAT, 1, timeout=0.05)


async def test_get_updates_long_poll_returns_promptly_and_honours_offsets(stub: BotApiStub, bot: Bot) -> None:
    (start,) = await bot.get_updates(timeout=0)
    assert start.message is not None and start.message.text == "/start"
    assert start.message.entities[0].type == "bot_command"
    poll = asyncio.create_task(bot.get_updates(offset=start.update_id + 1, timeout=5))
    await asyncio.sleep(0.2)
    began = time.monotonic()
    stub.push_message(CHAT, "/ask@newsqa_test_bot who won?")
    (update,) = await poll
    assert time.monotonic() - began < 1.0
    assert update.message is not None and update.message.parse_entity(update.message.entities[0]) == (
        "/ask@newsqa_test_bot"
    )
    assert stub.pending_updates() != []  # not confirmed until the next offset
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert stub.pending_updates() == []
    stub.push_message(CHAT, "one")
    stub.push_message(CHAT, "two")
    (first,) = await bot.get_updates(limit=1)
    assert first.message is not None and first.message.text == "one"


async def test_a_second_poller_terminates_the_first_with_conflict(stub: BotApiStub, bot: Bot) -> None:
    newest = stub.pending_updates()[-1]["update_id"]
    first = asyncio.create_task(bot.get_updates(offset=newest + 1, timeout=3))
    await asyncio.sleep(0.2)
    async with Bot(
        stub.token, base_url=stub.base_url
    ) as second_instance:  # a Bot polls one request at a time
        await second_instance.get_updates(timeout=0)
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_pushed_documents_download_and_big_files_are_refused(stub: BotApiStub, bot: Bot) -> None:
    payload = bytes(range(256)) * 40
    update = stub.push_document(CHAT, "article.html", payload, mime_type="text/html", caption="add this")
    document = update["message"]["document"]
    assert document["file_size"] == len(payload)
    file = await bot.get_file(document["file_id"])
    assert bytes(await file.download_as_bytearray()) == payload
    big = stub.push_document(CHAT, "huge.pdf", b"%PDF", file_size=25 * 1024 * 1024)
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(big["message"]["document"]["file_id"])
    sent = await bot.send_document(
        CHAT, b"a,b\n1,2\n", filename="answers.csv", caption="<i>csv</i>", parse_mode="HTML"
    )
    assert sent.document is not None and sent.document.file_name == "answers.csv" and sent.caption == "csv"
    (record,) = stub.sent(CHAT)
    assert (record.method, record.content) == ("sendDocument", b"a,b\n1,2\n")


def _png(width: int, height: int) -> bytes:
    """A PNG header as far as the stub reads it (signature and IHDR): enough to check the limits."""
    ihdr = struct.pack(">II", width, height) + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0" * 4 + b"IEND"


async def test_photos_are_uploaded_images_within_telegrams_limits(stub: BotApiStub, bot: Bot) -> None:
    sent = await bot.send_photo(CHAT, _png(800, 600), caption="<b>chart</b> of it", parse_mode="HTML")
    (size,) = sent.photo
    assert (size.width, size.height) == (800, 600) and sent.caption == "chart of it"
    (record,) = stub.sent(CHAT)
    assert record.method == "sendPhoto" and record.content == _png(800, 600)
    assert record.entities == [{"type": "bold", "offset": 0, "length": 5}]
    again = await bot.send_photo(CHAT, size.file_id)  # a photo sent before, by its file_id
    assert again.photo[0].file_id == size.file_id
    refusals = [
        (b"not an image at all", "IMAGE_PROCESS_FAILED"),
        (_png(9000, 1500), "PHOTO_INVALID_DIMENSIONS"),  # width + height over 10000
        (_png(2100, 100), "PHOTO_INVALID_DIMENSIONS"),  # ratio over 20
    ]
    for photo, error in refusals:
        with pytest.raises(BadRequest, match="(?i)" + error):
            await bot.send_photo(CHAT, photo)
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(CHAT, _png(10, 10), caption="x" * 1025)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_photo(CHAT, _png(10, 10), caption="<b>open", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(CHAT, "no-such-file-id")
    assert [r.method for r in stub.sent(CHAT)] == ["sendPhoto", "sendPhoto"]
    assert [e.method for e in stub.errors] == ["sendPhoto"] * 6  # each refusal recorded, as for any call


# ---------------------------------------------------------------- the pattern for end-to-end tests


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_html(
        f"<b>You said:</b> {html.escape(update.effective_message.text)}",
        reply_markup=keyboard("again"),
        do_quote=True,
    )


async def again(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text("Tapped.")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("Welcome")


async def test_application_answers_a_pushed_message_and_a_button_tap(stub: BotApiStub) -> None:
    app = application_builder(stub).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(again))
    async with running_application(app):
        (welcome,) = await stub.await_messages(CHAT, 1)  # the /start pushed by the fixture
        assert welcome.text == "Welcome"
        stub.push_message(CHAT, "a < b & c")
        _, reply = await stub.await_messages(CHAT, 2)
        assert reply.text == "You said: a < b & c"
        assert reply.params["reply_parameters"]["message_id"] == 3  # reply_html quotes the user's message
        stub.push_callback(CHAT, reply.message_id, "again")
        await stub.await_for(lambda: stub.sent(CHAT, methods=("editMessageText",)), what="the edit")
        with pytest.raises(RuntimeError, match=r"await stub\.await_for"):
            stub.wait_for(lambda: True)  # a blocking wait here would freeze the bot
    assert stub.unanswered_callbacks() == []
    assert stub.errors == []
    assert stub.pending_updates() == []  # every update was confirmed on shutdown


async def test_handler_exceptions_fail_the_test_on_exit(stub: BotApiStub) -> None:
    ran = asyncio.Event()

    async def broken(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ran.set()
        raise ZeroDivisionError("boom")

    app = application_builder(stub).build()
    app.add_handler(CommandHandler("start", broken))
    with pytest.raises(AssertionError, match="1 handler error") as caught:
        async with running_application(app):
            await asyncio.wait_for(ran.wait(), 5)
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


def test_bot_in_another_thread_with_blocking_waits_and_a_group_chat(stub: BotApiStub) -> None:
    done = threading.Event()

    async def serve() -> None:
        app = application_builder(stub).build()
        app.add_handler(CommandHandler("start", start))
        async with running_application(app):
            while not done.is_set():
                await asyncio.sleep(0.02)

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    try:
        (welcome,) = stub.wait_for_messages(CHAT, 1)
        stub.push_message(-1001234, "/start@newsqa_test_bot", user_id=77, chat_type="supergroup")
        (in_group,) = stub.wait_for_messages(-1001234, 1)
    finally:
        done.set()
        thread.join(10)
    assert not thread.is_alive()
    assert welcome.text == in_group.text == "Welcome"
    assert stub.errors == []


# ---------------------------------------------------------------- the parsers directly


@pytest.mark.parametrize(
    ("markup", "plain", "entities"),
    [
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1", [("pre", 0, 5, "python")]),
        ("<blockquote expandable>q</blockquote>", "q", [("expandable_blockquote", 0, 1, None)]),
        ("&lt;b&gt; &#128512; &#x41;&quot;", '<b> 😀 A"', []),
        ("<code><b>x</b></code>", "x", [("code", 0, 1, None)]),  # formatting inside code is dropped
    ],
)
def test_parse_html_shapes(markup: str, plain: str, entities: list[tuple[str, int, int, str | None]]) -> None:
    text, found = parse_html(markup)
    assert (text, [(e.type, e.offset, e.length, e.language) for e in found]) == (plain, entities)


def test_legacy_markdown_is_parsed_loosely() -> None:
    text, found = parse_markdown("*Bold* _it_ [site](https://e.com) 1.5-2!")
    assert text == "Bold it site 1.5-2!"
    assert [(e.type, e.offset, e.length, e.url) for e in found] == [
        ("bold", 0, 4, None),
        ("italic", 5, 2, None),
        ("text_link", 8, 4, "https://e.com"),
    ]


def test_parse_markdown_v2_blockquotes_code_and_escapes() -> None:
    text, found = parse_markdown_v2(">quoted\n>lines\nafter `a.b` \\\\ ```py\nx```")
    assert text == "quoted\nlines\nafter a.b \\ x"
    assert [(e.type, e.offset, e.length) for e in found] == [
        ("blockquote", 0, 12),
        ("code", 19, 3),
        ("pre", 25, 1),
    ]
