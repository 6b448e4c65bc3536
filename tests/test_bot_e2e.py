"""The Telegram bot end to end: the real PTB Application, started by `run_bot` exactly as `newsqa serve`
starts it, talking to the strict Bot API stub on 127.0.0.1, answering from a real SQLite + FAISS index
(the deterministic hashing embedder stands in for the model)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bot_harness import (
    ADMIN,
    AIN,
    AIRBASE,
    ERBIL,
    GROUP,
    STRANGER,
    USER,
    Harness,
    bold,
    running_harness,
    store_for,
)
from botapi_stub import BotApiStub, utf16_len
from conftest import SEEDS
from telegram import Bot
from web_fixture import WebServer, html_page

from newsqa.bot import texts
from newsqa.bot.backend import Backend
from newsqa.bot.chatstore import ChatStore
from newsqa.bot.formatting import Rendered
from newsqa.bot.sending import Replier
from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.text.article import Article
from newsqa.index.web.netguard import AllowList


@pytest.fixture(params=["sqlite", "postgresql"])
async def h(
    request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Harness]:
    """The bot on each store: a data directory, and a PostgreSQL database (--store)."""
    async with running_harness(tmp_path, caplog, store_for(request)) as harness:
        yield harness


# -- /start, questions, follow-ups --------------------------------------------------------------------


async def test_start_says_what_it_does_and_commands_are_announced(h: Harness) -> None:
    await h.start()
    (welcome,) = await h.say(USER, "/start")
    assert welcome.parse_mode == "HTML"
    assert "I answer questions about news articles" in welcome.text and "I know 1 article." in welcome.text
    assert "Try for example: What is known about Armed groups use of drones in Iraq" in welcome.text
    assert "admin" not in welcome.text
    assert [c["command"] for c in h.stub.commands] == [
        "start",
        "help",
        "ask",
        "sources",
        "timeline",
        "reset",
        "follow",
        "following",
        "unfollow",
    ]
    admin_menu = h.stub.commands_for({"type": "chat", "chat_id": ADMIN})
    assert [c["command"] for c in admin_menu][-4:] == ["add", "remove", "reindex", "stats"]
    (admin_welcome,) = await h.say(ADMIN, "/start")
    assert "You are an admin here" in admin_welcome.text
    (helped,) = await h.say(USER, "/help")
    assert "/sources" in helped.text and "/reindex" not in helped.text
    assert "/follow drone attacks in Iraq" in helped.text and "/unfollow — Stop following" in helped.text


async def test_question_answered_with_cited_bold_sentence_and_buttons(h: Harness) -> None:
    await h.start()
    (answer,) = await h.say(USER, AIRBASE)
    assert answer.parse_mode == "HTML"
    assert answer.text.startswith("[1] ") and AIN in answer.text
    assert bold(answer)[0] == AIN  # the matched sentence, in bold inside its excerpt
    assert "\n— Armed groups use of drones in Iraq 'concerning’: US commander" in answer.text
    assert "[2] " in answer.text and "[3] " in answer.text
    assert answer.callback_data[:2] == [f"c:{_sentence_id(h, AIN)}", "s:1"]
    assert (USER, "typing") in h.stub.chat_actions
    assert answer.params["link_preview_options"] == {"is_disabled": True}


async def test_follow_up_resolves_against_the_previous_question(h: Harness) -> None:
    await h.start()
    await h.say(USER, AIRBASE)
    (follow_up,) = await h.say(USER, "And in April?")
    assert follow_up.text.startswith("Searched for: Which airbase was targeted by drones in April?\n\n[1] ")
    assert bold(follow_up)[0] == ERBIL


async def test_unanswerable_question_says_not_found_with_a_hint(h: Harness) -> None:
    await h.start()
    (reply,) = await h.say(USER, "What is the capital of France?")
    assert reply.text.startswith(
        "Not found in the articles: nothing I have indexed answers “What is the capital of France?”."
    )
    assert "/sources lists the latest articles" in reply.text and reply.buttons == []


async def test_markup_characters_in_questions_and_articles_stay_literal(h: Harness) -> None:
    h.index(
        [
            Article(
                "att", "AT&T <Results> *Q1*", "AT&T said <b>profits</b> & *margins* rose_fast in the quarter."
            )
        ]
    )
    await h.start()
    question = "Is <u>7 & 9</u> *squared* _zz_ ≠ <q>?"
    (not_found,) = await h.say(USER, question)
    assert f"answers “{question}”" in not_found.text and not_found.parse_mode == "HTML"
    (found,) = await h.say(USER, "Did AT&T say <b>profits</b> & *margins* rose_fast?")
    assert bold(found)[0] == "AT&T said <b>profits</b> & *margins* rose_fast in the quarter."
    assert "— AT&T <Results> *Q1*" in found.text


async def test_long_answers_are_split_between_passages_under_4096(h: Harness) -> None:
    filler = " ".join(
        ["the harbour wall repair budget grew again"] * 60
    )  # cut into ~1000 character sentences
    h.index(
        [
            Article(
                f"long{i}",
                f"Harbour report {i}",
                f"Harbour wall {i}: {filler} in year {i}.\n\nShort end {i}.",
            )
            for i in range(8)
        ]
    )
    await h.start(k=6)
    before = len(h.sends(USER))
    h.stub.push_message(USER, "How much did the harbour wall repair budget grow?")
    messages = await h.replies(USER, before, 2, settle=0.3)
    assert len(messages) >= 2 and sum(utf16_len(m.text) for m in messages) > 4096
    ranks = []
    for m in messages:
        assert utf16_len(m.text) <= 4096  # the stub refuses more; this says by how much we stay under
        shown = [int(part[1 : part.index("]")]) for part in m.text.split("\n\n") if part.startswith("[")]
        contexts = [d for d in m.callback_data if d.startswith("c:")]
        assert len(contexts) == len(shown) == len(bold(m))  # each message: its passages, bold, buttons
        ranks += shown
    assert ranks == [1, 2, 3, 4, 5, 6]
    assert messages[-1].callback_data[-1].startswith("m:")  # More only under the last message
    assert not any(d.startswith("m:") for m in messages[:-1] for d in m.callback_data)


# -- buttons ------------------------------------------------------------------------------------------


async def test_buttons_more_context_source_and_stale_after_remove(h: Harness) -> None:
    h.index(
        [
            Article(
                f"drone{i}",
                f"Drone report {i}",
                f"Drones targeted the airbase {i} times. Officials said drones were seen near the airbase.",
                url=f"https://news.example/drones/{i}?a=1&b=2",
                published="2021-06-0{i}T10:00:00Z".replace("{i}", str(i + 1)),
                source="Example <News>",
            )
            for i in range(3)
        ]
    )
    await h.start()
    (answer,) = await h.say(USER, AIRBASE)
    assert answer.callback_data[-1].startswith("m:")

    note, (context,) = await h.tap(answer, answer.callback_data[0], 1)
    assert note is None and context.text.startswith("Context from ")
    assert bold(context)[0] == "Context" and bold(context)[1] in answer.text
    assert len(context.text) > len(answer.text.split("\n\n")[0])  # wider than the passage

    note, (source,) = await h.tap(answer, answer.callback_data[1], 1)
    assert note is None and "Indexed sentences:" in source.text and "Id:" not in source.text

    note, (more,) = await h.tap(answer, answer.callback_data[-1], 1)
    assert note is None and more.text.startswith("[4] ")
    tapped = h.stub.message(USER, answer.message_id)
    assert tapped is not None  # its More button moved to the new page; Context and Source stay
    assert [b["text"] for row in tapped["reply_markup"]["inline_keyboard"] for b in row][-2:] == [
        "Context [3]",
        "Source [3]",
    ]
    linked = [e["url"] for e in more.entities if e["type"] == "text_link"]
    assert linked and linked[0].startswith("https://news.example/drones/") and "&b=2" in linked[0]

    seed_id = _seed_id(h)
    (removed,) = await h.say(ADMIN, f"/remove {seed_id}")
    assert "Removed 1 article" in removed.text
    note, new = await h.tap(answer, answer.callback_data[0])
    assert note == texts.STALE and new == []
    note, new = await h.tap(answer, answer.callback_data[1])
    assert note == texts.STALE and new == []

    await h.say(USER, "/reset")
    assert more.callback_data[-1].startswith("m:")  # still more: the stale tap below is a real one
    note, new = await h.tap(more, more.callback_data[-1])
    assert note == texts.FORGOTTEN and new == []


# -- admin --------------------------------------------------------------------------------------------


async def test_admin_uploads_a_document_that_answers_right_after(h: Harness) -> None:
    await h.start()
    before = len(h.sends(ADMIN))
    h.stub.push_document(ADMIN, "zoo.txt", b"Zoo news\nThree zebras escaped from the city zoo on Friday.\n")
    (added,) = await h.replies(ADMIN, before)
    assert added.text.startswith("Added: 1 added") and "searchable now" in added.text
    (answer,) = await h.say(ADMIN, "How many zebras escaped from the city zoo?")
    assert bold(answer)[0] == "Three zebras escaped from the city zoo on Friday."
    assert "— Zoo news" in answer.text

    before = len(h.sends(ADMIN))
    h.stub.push_document(ADMIN, "huge.txt", b"x", file_size=25 * 1024 * 1024)
    h.stub.push_document(ADMIN, "scan.pdf", b"%PDF-1.4")
    refusals = " | ".join(m.text for m in await h.replies(ADMIN, before, 2))  # in either order:
    assert "too large (25 MB); the limit is 5 MB" in refusals  # updates are handled concurrently
    assert "I can't index scan.pdf" in refusals
    assert h.stub.calls.count("getFile") == 1  # only zoo.txt was downloaded: refusals come first


async def test_admin_adds_text_a_reply_and_a_url_then_removes(h: Harness) -> None:
    with WebServer() as web:
        web.set_route(
            "/world/harbour",
            html_page(
                "Harbour wall to be rebuilt",
                ["The northern pier will be rebuilt by a team of forty divers next spring."] * 3,
                site="Coastal Times",
                published="2024-05-01T10:00:00+02:00",
            ),
        )
        await h.start()
        (added,) = await h.say(ADMIN, "/add Llama news\nA llama named Carl won the county fair on Tuesday.")
        assert added.text.startswith("Added: 1 added")
        (fetched,) = await h.say(ADMIN, f"/add {web.url('/world/harbour')}")
        assert fetched.text.startswith("Added: 1 added"), fetched.text
    (answer,) = await h.say(USER, "Which llama won the county fair?")
    assert bold(answer)[0] == "A llama named Carl won the county fair on Tuesday."
    (answer,) = await h.say(USER, "How many divers will rebuild the northern pier?")
    assert "forty divers" in bold(answer)[0] and "Coastal Times · 2024-05-01" in answer.text
    (listing,) = await h.say(ADMIN, "/sources")
    assert listing.text.startswith("The latest 3 of 3 indexed articles:")
    assert "http://127.0.0.1" in listing.text  # admins see ids (here the page's address)
    (stats,) = await h.say(ADMIN, "/stats")
    assert "Articles: 3" in stats.text and "Questions since start: 2" in stats.text


async def test_admin_add_refuses_other_schemes_and_internal_addresses(h: Harness) -> None:
    with WebServer() as web:
        web.set_route("/secret", html_page("Internal", ["The staff password is hunter2, said the wiki."] * 3))
        await h.start(allow_hosts=AllowList())  # as `newsqa serve` starts without --allow-host
        (local,) = await h.say(ADMIN, "/add file:///etc/passwd")
        (internal,) = await h.say(ADMIN, f"/add {web.url('/secret')}")
        assert web.hits == {}
    assert local.text == (
        "Nothing to add.\n\nSkipped:\n"
        "• file:///etc/passwd: not a web address (only http and https are fetched)"
    )
    assert internal.text.startswith("Nothing to add.\n\nSkipped:\n• ")
    assert internal.text.endswith(
        ": refused: 127.0.0.1 is a loopback address "
        "(only public addresses are fetched, others with --allow-host)"
    )
    assert h.library is not None and h.library.counts()[0] == 1  # only the seed article


async def test_admin_add_as_a_reply_to_a_message_or_a_file(h: Harness) -> None:
    await h.start()
    h.stub.push_message(ADMIN, "Penguins news\nThe penguins waddled across the frozen ice rink at noon.")
    await h.replies(ADMIN, 0)  # the bot treated it as a question first
    forwarded = h.stub.message(ADMIN, 1)
    assert forwarded is not None
    (added,) = await h.say(ADMIN, "/add", reply_to_message_id=1)
    assert added.text.startswith("Added: 1 added")
    (answer,) = await h.say(ADMIN, "Where did the penguins waddle?")
    assert bold(answer)[0] == "The penguins waddled across the frozen ice rink at noon."

    shared = h.stub.push_document(
        GROUP, "otters.md", b"# Otters\nTwo otters opened a clam shop.", user_id=USER, chat_type="supergroup"
    )
    await asyncio.sleep(0.3)
    assert h.sends(GROUP) == []  # a file shared in a group is not for the bot
    (added,) = await h.say(
        GROUP,
        "/add",
        user_id=ADMIN,
        chat_type="supergroup",
        reply_to_message_id=shared["message"]["message_id"],
    )
    assert added.text.startswith("Added: 1 added")
    (answer,) = await h.say(GROUP, "/ask What did the otters open?", user_id=USER, chat_type="supergroup")
    assert bold(answer)[0] == "Two otters opened a clam shop."


async def test_non_admin_is_refused_and_nothing_changes(h: Harness) -> None:
    await h.start()
    counts = h.library.counts() if h.library else None
    (add,) = await h.say(USER, "/add Title\nSome new article text about the moon.")
    (remove,) = await h.say(USER, f"/remove {_seed_id(h)}")
    (stats,) = await h.say(USER, "/stats")
    before = len(h.sends(USER))
    h.stub.push_document(USER, "moon.txt", b"Moon\nThe moon is made of cheese.")
    (upload,) = await h.replies(USER, before)
    for reply, what in ((add, "add articles"), (remove, "remove articles"), (stats, "see the statistics")):
        assert reply.text == f"Sorry, only the bot's admins can {what}; nothing was changed."
    assert upload.text.startswith("Sorry, only the bot's admins can add articles")
    assert h.library is not None and h.library.counts() == counts
    assert "getFile" not in h.stub.calls
    (listing,) = await h.say(USER, "/sources")
    assert "1. Armed groups use of drones" in listing.text and str(SEEDS) not in listing.text  # no ids


async def test_reindex_rescans_the_folders_and_waits_for_other_writers(h: Harness, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "eel.txt").write_text("Eel news\nAn electric eel powered the aquarium's lights for an hour.\n")
    await h.start(folders=(inbox,), lock_timeout=0.3)
    started, report = await h.say(ADMIN, "/reindex", 2)
    assert started.text == "Rescanning 1 folder…" and report.text.startswith("Reindexed: 1 added")
    (answer,) = await h.say(USER, "What powered the aquarium's lights?")
    assert bold(answer)[0] == "An electric eel powered the aquarium's lights for an hour."
    assert h.library is not None
    with h.library.dir.writer_lock():  # another process (say `newsqa index add`) is writing
        (busy,) = await h.say(ADMIN, "/add Crab news\nA crab ran the marathon.")
    assert busy.text.startswith("another newsqa process is writing to")
    assert h.library.counts()[0] == 2


async def test_a_slow_search_does_not_hold_up_other_chats(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    original = Backend.ask

    def ask(self: Backend, chat: str, question: str, as_of: Any) -> Any:
        if question == "slow one":
            release.wait(10)  # a long search in its worker thread
        return original(self, chat, question, as_of)

    monkeypatch.setattr(Backend, "ask", ask)
    await h.start()
    h.stub.push_message(USER, "slow one")
    await h.stub.await_for(lambda: (USER, "typing") in h.stub.chat_actions, what="the slow search started")
    (answer,) = await h.say(ADMIN, AIRBASE)  # answered while the other search still runs
    assert bold(answer)[0] == AIN and h.sends(USER) == []
    release.set()
    (slow,) = await h.replies(USER, 0)
    assert slow.text.startswith("Not found in the articles")


# -- access, limits, groups ---------------------------------------------------------------------------


async def test_allow_list_admits_listed_users_and_chats_only(h: Harness) -> None:
    await h.start(allowed=frozenset({USER, GROUP}))
    (refused,) = await h.say(STRANGER, AIRBASE)
    assert refused.text.startswith("Sorry, this bot only answers the people and chats its owner allowed")
    assert f"your id is {STRANGER}" in refused.text
    (answer,) = await h.say(USER, AIRBASE)
    assert bold(answer)[0] == AIN
    (in_group,) = await h.say(GROUP, f"/ask {AIRBASE}", user_id=STRANGER, chat_type="supergroup")
    assert bold(in_group)[0] == AIN  # the group is allowed, so its members may ask there
    assert h.library is not None
    state = ChatStore(h.library.store).load_conversation(f"telegram:{STRANGER}")
    assert state is None  # the refused question left no trace


async def test_per_user_rate_limit_is_friendly(h: Harness) -> None:
    await h.start(questions_per_window=2, window_seconds=60)
    await h.say(USER, AIRBASE)
    await h.say(USER, "And in April?")
    (limited,) = await h.say(USER, "And in May?")
    assert limited.text.startswith("You are asking faster than I can keep up with. Please wait ")
    (other,) = await h.say(ADMIN, AIRBASE)  # another user is not held back
    assert bold(other)[0] == AIN


async def test_groups_answer_ask_mentions_and_replies_only(h: Harness) -> None:
    await h.start()
    group: dict[str, Any] = {"user_id": USER, "chat_type": "supergroup"}
    h.stub.push_message(GROUP, "lunch anyone? which airbase do you fly from", **group)
    (by_command,) = await h.say(GROUP, f"/ask@newsqa_test_bot {AIRBASE}", **group)
    assert bold(by_command)[0] == AIN
    assert by_command.params["reply_parameters"]["message_id"] == 2  # quotes the asker; message 1 was ignored
    (by_mention,) = await h.say(GROUP, "@newsqa_test_bot and in April?", **group)
    assert bold(by_mention)[0] == ERBIL  # the group's conversation continued
    (by_reply,) = await h.say(GROUP, "And in May?", reply_to_message_id=by_mention.message_id, **group)
    assert "Searched for:" in by_reply.text and "May" in by_reply.text
    assert len(h.sends(GROUP)) == 3  # the chatter got no reply


# -- faults, restarts, webhooks ------------------------------------------------------------------------


async def test_429_and_a_bad_gateway_are_retried(h: Harness) -> None:
    await h.start()
    h.stub.fail_next("sendMessage", retry_after=1)
    (answer,) = await h.say(USER, AIRBASE)
    assert bold(answer)[0] == AIN
    h.stub.fail_next("sendMessage", error_code=502)
    h.stub.fail_next("sendChatAction", error_code=502, times=2)
    (again,) = await h.say(USER, "And in April?")
    assert bold(again)[0] == ERBIL
    assert [e.error_code for e in h.stub.injected] == [429, 502, 502, 502]
    assert len(h.sends(USER)) == 2  # each answer sent exactly once


async def test_a_failing_handler_is_reported_and_the_bot_keeps_serving(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    h.expect_errors = True
    original = Backend.ask
    calls = {"n": 0}

    def flaky(self: Backend, chat: str, question: str, as_of: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk on fire")
        return original(self, chat, question, as_of)

    monkeypatch.setattr(Backend, "ask", flaky)
    await h.start()
    (sorry,) = await h.say(USER, AIRBASE)
    assert sorry.text == texts.SORRY
    (answer,) = await h.say(USER, AIRBASE)
    assert bold(answer)[0] == AIN
    (failure,) = [r for r in caplog.records if r.name.startswith("newsqa") and r.levelno >= logging.ERROR]
    assert failure.exc_info is not None and "disk on fire" in str(failure.exc_info[1])
    assert h.stub.errors == []


async def test_restart_keeps_the_conversation(h: Harness) -> None:
    await h.start()
    await h.say(USER, AIRBASE)
    await h.stop()
    await h.start()  # a new Application and a new Library on the same data directory
    (follow_up,) = await h.say(USER, "And in April?")
    assert follow_up.text.startswith("Searched for: Which airbase was targeted by drones in April?")
    assert bold(follow_up)[0] == ERBIL
    (done,) = await h.say(USER, "/reset")
    assert "forgot this chat's conversation" in done.text
    (fresh,) = await h.say(USER, "And in April?")
    assert "Searched for:" not in fresh.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_checks_the_secret_token(h: Harness) -> None:
    port = _free_port()
    await h.start(
        webhook_url="https://bot.example/newsqa/hook",
        listen="127.0.0.1",
        port=port,
        webhook_secret="s3cret-Token_1",
    )
    assert h.stub.webhook is not None
    assert h.stub.webhook["url"] == "https://bot.example/newsqa/hook"
    assert h.stub.webhook["secret_token"] == "s3cret-Token_1"
    update = h.stub.push_message(USER, AIRBASE)  # only registers the chat: a webhook bot does not poll
    url = f"http://127.0.0.1:{port}/newsqa/hook"
    async with httpx.AsyncClient() as client:
        missing = await client.post(url, json=update)
        wrong = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
        assert (missing.status_code, wrong.status_code) == (403, 403)
        await asyncio.sleep(0.3)
        assert h.sends(USER) == []
        right = await client.post(
            url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
        )
        assert right.status_code == 200
    (answer,) = await h.replies(USER, 0)
    assert bold(answer)[0] == AIN


async def test_webhook_mode_refuses_a_wrong_secret_before_reading_the_body(h: Harness) -> None:
    """A 90 MB POST with a wrong secret gets its 403 on the headers alone; the path is no pattern."""
    port = _free_port()
    await h.start(webhook_url="https://bot.example/ho(ok.*", listen="127.0.0.1", port=port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /ho(ok.* HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Telegram-Bot-Api-Secret-Token: guess\r\nContent-Length: 94371840\r\n\r\n"
    )
    await writer.drain()
    try:
        head = await asyncio.wait_for(reader.read(100), 3.0)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 403")
    async with httpx.AsyncClient() as client:
        other = await client.post(f"http://127.0.0.1:{port}/ho(okANYTHING/else", json={})
    assert other.status_code == 404


async def test_unparsable_html_is_resent_as_plain_text() -> None:
    with BotApiStub() as stub:
        stub.push_message(USER, "/start")
        async with Bot(stub.token, base_url=stub.base_url) as bot:
            sent = await Replier(bot, USER).send(
                Rendered("<b>bro<ken", "bro<ken", ()), [[("More ▸", "m:1:3")]]
            )
        assert sent.text == "bro<ken" and sent.reply_markup is not None
        (rejected,) = stub.errors
        assert "can't parse entities" in rejected.description
        (record,) = stub.sent(USER)
        assert record.parse_mode is None and record.callback_data == ["m:1:3"]


# -- helpers ------------------------------------------------------------------------------------------


def _sentence_id(h: Harness, text: str) -> int:
    lib = h.library
    assert lib is not None
    row = lib.store.conn.execute("SELECT id FROM sentences WHERE text = ?", (text,)).fetchone()
    return int(row[0])


def _seed_id(h: Harness) -> str:
    return next(iter(iter_articles([SEEDS]))).id  # type: ignore[union-attr]


# -- time: the message's date is the moment of asking --------------------------------------------------


def _toll(aid: str, day: str, pounds: str) -> Article:
    return Article(
        id=aid,
        title="Harbour bridge toll",
        text=f"The harbour bridge toll was raised to {pounds} pounds by the council.",
        published=day,
        source=f"Outlet {aid}",
    )


async def test_the_message_date_is_the_moment_of_asking(h: Harness) -> None:
    """A message sent on 15 March 2023 is answered as of that day: a later article is never quoted,
    and the answer says how old its newest evidence is; /timeline lists the story oldest first."""
    import datetime as dt

    h.index(
        [
            _toll("mid", "2022-11-20", "three"),
            _toll("new", "2023-03-01", "four"),
            _toll("later", "2023-06-30", "five"),
        ]
    )
    await h.start()
    march = int(dt.datetime(2023, 3, 15, 12, tzinfo=dt.UTC).timestamp())
    messages = await h.say(USER, "What is the latest harbour bridge toll?", date=march)
    text = " ".join(m.text for m in messages)
    assert "four pounds" in bold(messages[0])[0] and "five pounds" not in text and "2023-06-30" not in text
    assert "2023-03-01" in text  # each citation shows its date

    next_year = int(dt.datetime(2024, 5, 1, 9, tzinfo=dt.UTC).timestamp())
    messages = await h.say(USER, "What is the latest harbour bridge toll?", date=next_year)
    assert "The latest I have on this is from 30 June 2023." in messages[0].text
    assert "five pounds" in " ".join(bold(m)[0] for m in messages if bold(m))

    (line,) = await h.say(USER, "/timeline harbour bridge toll", date=march)
    assert line.parse_mode == "HTML" and "Timeline" in line.text
    order = [line.text.index(d) for d in ("2022-11-20", "2023-03-01")]
    assert order == sorted(order) and "2023-06-30" not in line.text
    # then its chart (test_bot_timeline_chart.py); the first one imports matplotlib: slow on a busy machine
    await h.stub.await_for(lambda: h.stub.sent(USER, methods=("sendPhoto",)), timeout=60, what="the chart")
    (usage,) = await h.say(USER, "/timeline")
    assert "/timeline drone attacks in Iraq" in usage.text
