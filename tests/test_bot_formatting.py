"""The bot's pure parts: HTML rendering and splitting (checked with the stub's Telegram parser), buttons,
addressing, chat state, limits, access, retry policy, token redaction, uploads."""

from __future__ import annotations

import html
import logging

import httpx
import pytest
from botapi_stub import parse_html, utf16_len
from telegram.error import BadRequest, NetworkError, TimedOut

from newsqa.bot import buttons
from newsqa.bot.access import AccessPolicy
from newsqa.bot.addressing import command_argument, question_in
from newsqa.bot.chatstate import KEEP_ANSWERS, ChatState
from newsqa.bot.chatstore import Follow
from newsqa.bot.formatting import MAX_MESSAGE, Span, block_html, cut, fit, pack
from newsqa.bot.ratelimit import QuestionLimiter
from newsqa.bot.redact import MASK, TokenRedactor
from newsqa.bot.retry import retryable
from newsqa.bot.services import chat_id_of, chat_key
from newsqa.bot.settings import BotSettings, file_url_for
from newsqa.bot.topics import pick_follows
from newsqa.bot.uploads import load_text, load_upload, safe_name
from newsqa.bot.views import alert_block, answer_messages, short_date, source_blocks
from newsqa.index.search.answer import Answer, Citation, Passage
from newsqa.index.search.followup import Conversation
from newsqa.index.text.article import Article, LoadProblem

NASTY = 'a < b && c > d "quoted" <b>not bold</b> *star* _under_ &amp; 😀'


def passage(
    rank: int, sentence: str, *, before: str = "Before. ", after: str = " After.", **cite: str
) -> Passage:
    excerpt = before + sentence + after
    citation = Citation(
        cite.get("id", f"a{rank}"),
        cite.get("title", f"Headline {rank}"),
        cite.get("url"),
        cite.get("published"),
        cite.get("source"),
    )
    start = len(before)
    return Passage(
        rank, sentence, excerpt, (start, start + len(sentence)), 0.9, citation, 100 + rank, rank, 0
    )


def answer_of(*passages: Passage, question: str = "q?", query: str | None = None) -> Answer:
    return Answer(question, query or question, bool(passages), list(passages), 0.9)


def parsed(markup: str) -> tuple[str, list[tuple[str, str]]]:
    """Telegram's view of a message: the plain text and (entity type, covered text) pairs."""
    text, entities = parse_html(markup)
    units = text.encode("utf-16-le")
    covered = [
        (e.type, units[2 * e.offset : 2 * (e.offset + e.length)].decode("utf-16-le")) for e in entities
    ]
    return text, covered


# -- rendering ---------------------------------------------------------------------------------------


def test_every_dynamic_string_is_escaped_and_the_sentence_is_bold() -> None:
    p = passage(1, NASTY, before="x<y & ", after=" </b>", title="AT&T <CEO>", url="https://e.com/a?b=1&c=2")
    (message,) = answer_messages(answer_of(p))
    text, entities = parsed(message.rendered.html)
    assert NASTY in text and "x<y & " in text and " </b>" in text and "AT&T <CEO>" in text
    assert ("bold", NASTY) in entities  # only the sentence is bold: no markup from the text itself
    assert [t for t, _ in entities] == ["bold", "text_link"]
    link = next(e for e in parse_html(message.rendered.html)[1] if e.type == "text_link")
    assert link.url == "https://e.com/a?b=1&c=2"
    assert message.rendered.plain == text  # the plain fallback says exactly the same


def test_only_web_links_become_links() -> None:
    for url in ("javascript:alert(1)", "ftp://e.com/x", 'https://e.com/"><b>'):
        (message,) = answer_messages(answer_of(passage(1, "S.", url=url)))
        _, entities = parsed(message.rendered.html)  # would raise on an invalid link
        assert [t for t, _ in entities] == ["bold"]


def test_citation_numbers_outlet_and_short_date() -> None:
    p = passage(4, "It rained.", source="Daily <News>", published="2024-05-01T08:00:00Z")
    (message,) = answer_messages(answer_of(p, question="And rain?", query="weather rain?"))
    text, entities = parsed(message.rendered.html)
    assert text.startswith("Searched for: weather rain?\n\n[4] ")
    assert text.endswith("— Headline 4 · Daily <News> · 2024-05-01")
    assert ("italic", "Searched for: weather rain?") in entities
    assert short_date("2024-05-01") == "2024-05-01" and short_date("May 1") == "May 1"


def test_not_found_names_the_question_and_hints() -> None:
    (message,) = answer_messages(answer_of(question="What is <b>2 & 3</b> *x* _y_?"))
    text, entities = parsed(message.rendered.html)
    assert text.startswith("Not found in the articles: nothing I have indexed answers “What is <b>2 & 3</b>")
    assert "/sources" in text and message.passages == ()
    assert entities == [("bold", "Not found in the articles")]


def test_source_view_shows_the_id_to_admins_only() -> None:
    c = Citation("/srv/news/a b.txt", "Title", "https://e.com/x", "2024-01-02", "Outlet")
    for show in (True, False):
        (message,) = pack(source_blocks(c, lead="Lead " * 200, sentences=7, show_id=show))
        text, entities = parsed(message.html)
        assert ("code", "/srv/news/a b.txt") in entities if show else "/srv/news" not in text
        assert "Indexed sentences: 7" in text and "Outlet: Outlet" in text and len(text) < 1000


# -- splitting ---------------------------------------------------------------------------------------


def test_a_long_answer_is_split_between_passages_within_the_limit() -> None:
    long = "Drones " + "word " * 500 + "end."  # ~2.5 k characters each
    passages = [passage(i, f"{long} {i}", before="&<>" * 100, title="T&<>" * 10) for i in range(1, 6)]
    messages = answer_messages(answer_of(*passages))
    assert len(messages) >= 3
    shown = [p.rank for m in messages for p in m.passages]
    assert shown == [1, 2, 3, 4, 5]  # every passage once, in order; buttons follow their message
    for m in messages:
        text, entities = parsed(m.rendered.html)
        assert utf16_len(text) <= MAX_MESSAGE
        assert text.startswith(f"[{m.passages[0].rank}] ")
        assert [t for t, _ in entities].count("bold") == len(m.passages)


def test_one_huge_passage_is_cut_as_text_never_inside_a_tag() -> None:
    huge = "😀 emoji & <tags> " * 800  # 14 k characters, more UTF-16 units than characters
    p = passage(1, huge, before="B&" * 3000, after="A<" * 3000, title="T" * 5000, url="https://e.com/x")
    (message,) = answer_messages(answer_of(p))
    text, entities = parsed(message.rendered.html)  # parses: no tag or entity was cut
    assert utf16_len(text) <= MAX_MESSAGE and utf16_len(text) > MAX_MESSAGE - 200
    kinds = dict(entities)
    assert kinds["bold"].startswith("😀 emoji & <tags>") and kinds["bold"].endswith("…")
    assert kinds["text_link"].endswith("…")  # the headline gave way too, still linked


def test_an_alert_is_one_message_headed_by_its_topic_however_long() -> None:
    p = passage(1, "Zebras <escaped>.", title="Zoo & co", url="https://e.com/z", source="Paper")
    (message,) = pack([alert_block("zebras   at the <zoo>", p)])
    text, entities = parsed(message.html)
    assert text == "New on zebras at the <zoo>:\nBefore. Zebras <escaped>. After.\n— Zoo & co · Paper"
    assert entities == [
        ("italic", "zebras at the <zoo>"),
        ("bold", "Zebras <escaped>."),
        ("text_link", "Zoo & co"),
    ]
    huge = passage(1, "😀 sentence " * 900, before="B " * 3000, title="T" * 5000, url="https://e.com/x")
    (message,) = pack([alert_block("topic " * 40, huge)])
    text, entities = parsed(message.html)
    assert utf16_len(text) <= MAX_MESSAGE and text.startswith("New on topic topic")
    assert [kind for kind, _ in entities] == ["italic", "bold", "text_link"]


def test_unfollow_picks_by_number_or_words() -> None:
    follows = [Follow(7, "c", "drone attacks"), Follow(9, "c", "River bridge")]
    assert pick_follows(follows, "2") == [follows[1]] and pick_follows(follows, " 1 ") == [follows[0]]
    assert (
        pick_follows(follows, "3") == []
        and pick_follows(follows, "0") == []
        and pick_follows(follows, "7") == []
    )
    assert pick_follows(follows, "river   BRIDGE") == [follows[1]] and pick_follows(follows, "bridge") == []


def test_context_gives_way_before_the_sentence() -> None:
    p = passage(1, "The sentence itself.", before="x " * 3000, after=" y" * 3000)
    (message,) = answer_messages(answer_of(p))
    text, entities = parsed(message.rendered.html)
    assert ("bold", "The sentence itself.") in entities
    assert "…x x" in text and "y y…" in text


@pytest.mark.parametrize("limit", [50, 100, 4096])
def test_pack_respects_any_limit_and_measures_utf16(limit: int) -> None:
    blocks = [(Span("😀" * 30, "b", trim=1), Span(" & tail " * 10, trim=2)) for _ in range(7)]
    for message in pack(blocks, limit):
        text, _ = parsed(message.html)
        assert utf16_len(text) <= limit and message.plain == text


def test_cut_marks_the_cut_and_prefers_words() -> None:
    assert cut("one two three four", 6) == "one two…"
    assert cut("one two three four", 6, keep_end=True) == "…three four"
    assert cut("short", 10) == ""
    assert fit((Span("fixed text that cannot shrink"),), 10) == (Span("fixed…"),)
    assert block_html((Span(""), Span("<&>", "i"))) == "<i>&lt;&amp;&gt;</i>"


# -- buttons -----------------------------------------------------------------------------------------


def test_callback_data_round_trips_within_64_bytes() -> None:
    for action in (buttons.More(10**17, 10**17), buttons.Context(2**62), buttons.Source(7)):
        data = buttons.encode(action)
        assert len(data.encode()) <= 64 and buttons.decode(data) == action
    for junk in (None, "", "m:1", "c:x", "s:1:2", "z:1", "c:-1", "m:1:2:3", "c:" + "9" * 40):
        assert buttons.decode(junk) is None


def test_keyboard_rows_per_passage_then_more() -> None:
    rows = buttons.answer_keyboard([passage(2, "S."), passage(3, "T.")], buttons.More(5, 3))
    assert rows == [
        [("Context [2]", "c:102"), ("Source [2]", "s:2")],
        [("Context [3]", "c:103"), ("Source [3]", "s:3")],
        [("More ▸", "m:5:3")],
    ]


# -- addressing, state, limits, access ---------------------------------------------------------------


def test_what_is_a_question_for_the_bot() -> None:
    assert question_in(" Who? ", private=True, bot_username="b", replied_to_bot=False) == "Who?"
    assert question_in("chatter", private=False, bot_username="qa_bot", replied_to_bot=False) is None
    assert question_in("@QA_bot who won?", private=False, bot_username="qa_bot", replied_to_bot=False) == (
        "who won?"
    )
    assert question_in("@qa_bot", private=False, bot_username="qa_bot", replied_to_bot=False) == ""
    assert question_in("@qa_botx hi", private=False, bot_username="qa_bot", replied_to_bot=False) is None
    assert question_in("and then?", private=False, bot_username="qa_bot", replied_to_bot=True) == "and then?"
    assert command_argument("/add@qa_bot Title\nBody\n") == "Title\nBody"
    assert command_argument("/reset") == ""


def test_chat_state_round_trips_and_keeps_recent_answers() -> None:
    state = ChatState(Conversation([("q1", "r1")]))
    numbers = [state.remember(f"query {i}") for i in range(KEEP_ANSWERS + 5)]
    again = ChatState.from_json(state.to_json())
    assert again.conversation.turns == [("q1", "r1")]
    assert again.query_of(numbers[-1]) == f"query {KEEP_ANSWERS + 4}" and again.query_of(numbers[0]) is None
    assert again.remember("next") == numbers[-1] + 1
    assert Conversation.from_json(__import__("json").loads(state.to_json())).turns == [("q1", "r1")]
    assert ChatState.from_json("{not json").answers == {} and ChatState.from_json(None).next_answer == 1


def test_question_limiter_sliding_window() -> None:
    now = [100.0]
    limiter = QuestionLimiter(2, 60, clock=lambda: now[0])
    assert limiter.check(1) == 0 and limiter.check(1) == 0
    assert limiter.check(1) == pytest.approx(60)
    assert limiter.check(2) == 0  # per user
    now[0] += 30
    assert limiter.check(1) == pytest.approx(30)
    now[0] += 30.5
    assert limiter.check(1) == 0
    assert QuestionLimiter(0, 60).check(1) == 0  # 0 turns it off


def test_access_policy() -> None:
    open_bot = AccessPolicy(admins=frozenset({1}))
    assert open_bot.admits(99, 99) and open_bot.is_admin(1) and not open_bot.is_admin(99)
    closed = AccessPolicy(admins=frozenset({1}), allowed=frozenset({2, -100}))
    assert closed.admits(1, 1) and closed.admits(2, 2) and closed.admits(3, -100)
    assert not closed.admits(3, 3) and not closed.admits(None, None)
    # alerts, with nobody asking: the chat must be admitted (a private chat is its user's)
    assert open_bot.admits_chat(99) and open_bot.admits_chat(-5)
    assert closed.admits_chat(1) and closed.admits_chat(2) and closed.admits_chat(-100)
    assert not closed.admits_chat(3) and not closed.admits_chat(-2)
    assert (
        chat_id_of(chat_key(-100)) == -100
        and chat_id_of("cli:5") is None
        and chat_id_of("telegram:x") is None
    )


# -- faults, logs, settings, uploads -----------------------------------------------------------------


def _caused(exc: Exception, cause: BaseException | None) -> Exception:
    exc.__cause__ = cause
    return exc


def test_only_safe_failures_are_retried() -> None:
    request = httpx.Request("POST", "http://x")
    assert retryable("sendMessage", NetworkError("Bad Gateway"))  # Telegram answered 5xx
    assert retryable("sendMessage", _caused(NetworkError("x"), httpx.ConnectError("no", request=request)))
    assert retryable("sendMessage", _caused(TimedOut("pool"), httpx.PoolTimeout("full", request=request)))
    read_timeout = _caused(TimedOut(), httpx.ReadTimeout("slow", request=request))
    assert not retryable("sendMessage", read_timeout)  # it may have been sent: never post twice
    assert retryable("getFile", read_timeout) and retryable("sendChatAction", read_timeout)
    read_error = _caused(NetworkError("x"), httpx.ReadError("closed", request=request))
    assert retryable("answerCallbackQuery", read_error)  # a tap answered twice shows nothing twice
    assert not retryable("sendMessage", read_error)
    assert not retryable("sendMessage", BadRequest("Chat not found"))
    assert not retryable("sendMessage", ValueError("x"))


def test_token_is_redacted_from_messages_and_tracebacks() -> None:
    token = "123:SECRET"
    try:
        raise RuntimeError(f"failed for https://api.telegram.org/bot{token}/getMe")
    except RuntimeError as exc:
        record = logging.LogRecord(
            "x", logging.ERROR, "f", 1, "url %s", (f"/bot{token}/x",), (type(exc), exc, None)
        )
    assert TokenRedactor(token).filter(record)
    formatted = logging.Formatter().format(record)
    assert token not in formatted and MASK in record.getMessage() and MASK in formatted


def test_settings_repr_hides_secrets_and_file_url() -> None:
    s = BotSettings(token="123:SECRET", webhook_secret="hush", webhook_url="https://h.example/a/hook")
    assert "SECRET" not in repr(s) and "hush" not in repr(s)
    assert s.webhook_path == "a/hook" and s.mode == "webhook"
    assert file_url_for("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
    assert file_url_for("https://api.example/custom/") == "https://api.example/custom/file/bot"


def test_uploads_are_read_like_files_with_telegram_ids() -> None:
    (article,) = load_upload("../../etc/Zoo News.md", b"# Zoo news\nThree zebras escaped on Friday.\n")
    assert isinstance(article, Article)
    assert (article.id, article.title, article.origin) == (
        "telegram:Zoo News.md",
        "Zoo news",
        "../../etc/Zoo News.md",
    )
    records = (
        b'{"id": "w1", "title": "W1", "text": "Wire one."}\n{"title": "W2", "text": "Wire two."}\nnot json\n'
    )
    w1, w2, bad = load_upload("wire.jsonl", records)
    assert isinstance(w1, Article) and w1.id == "w1"
    assert isinstance(w2, Article) and w2.id == "telegram:wire.jsonl:2"
    assert isinstance(bad, LoadProblem) and bad.where.startswith("wire.jsonl") and "/tmp" not in bad.where
    (refused,) = load_upload("scan.pdf", b"%PDF")
    assert isinstance(refused, LoadProblem) and "unsupported file type" in refused.reason
    (empty,) = load_upload("e.txt", b"")
    assert isinstance(empty, LoadProblem)
    first, again = load_text("Title\nBody text here."), load_text("Title\nBody text here.\n")
    assert isinstance(first[0], Article) and first[0].id == again[0].id and first[0].title == "Title"  # type: ignore[union-attr]
    assert safe_name("../a b/c?.HTML") == "c_.HTML" and safe_name("...") == "upload"


def test_escaping_is_html_escape() -> None:
    assert block_html((Span(NASTY),)) == html.escape(NASTY, quote=False)
