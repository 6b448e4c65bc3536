"""What the bot says about itself (pure): welcome, help, refusals, limits, admin results.

Every dynamic value goes through a `Span`, so it is escaped when rendered; fixed wording sits here in one
place so handlers stay about flow.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .formatting import Block, Span

if TYPE_CHECKING:  # the records it words, read only: nothing of the index or the database is loaded
    from newsqa.index.storage.library import IngestReport
    from newsqa.index.text.article import LoadProblem

    from .backend import Stats
    from .chatstore import Follow

PUBLIC_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "What this bot does"),
    ("help", "How to ask, and the commands"),
    ("ask", "Ask a question (in groups: /ask your question)"),
    ("sources", "The latest indexed articles"),
    ("timeline", "A story in date order: /timeline topic"),
    ("reset", "Forget this chat's conversation"),
    ("follow", "Get new articles on a topic: /follow words or a question"),
    ("following", "The topics this chat follows"),
    ("unfollow", "Stop following: /unfollow number, topic, or all"),
)
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("add", "Add an article: text, a reply, a file or a URL"),
    ("remove", "Remove articles by id"),
    ("reindex", "Rescan the configured folders"),
    ("stats", "Index statistics"),
)

SORRY = "Sorry, something went wrong on my side while handling that. Please try again in a moment."
SORRY_SHORT = "Sorry, something went wrong. Please try again."
#: the shared database is down or restarting: nothing is wrong with the question, and it will pass
UNAVAILABLE = "The archive is unavailable right now (its database is away). Please try again in a minute."
UNAVAILABLE_SHORT = "The archive is unavailable right now. Please try again in a minute."
STALE = "That article is no longer in the index (it was removed or re-indexed). Ask again for fresh results."
FORGOTTEN = "I no longer have that answer (the conversation was reset or is too old). Please ask again."
NO_MORE = "No more passages for that question."
BUSY = "I'm busy with this chat's earlier messages; please tap again in a moment."
UNKNOWN_BUTTON = "That button is not one of mine any more. Please ask again."


def start_blocks(articles: int, example_title: str | None, *, admin: bool) -> list[Block]:
    intro: Block = (
        Span("Hi! I answer questions about news articles", "b"),
        Span(
            " by quoting the sentences that answer them, each with its source (headline, outlet, date, "
            "link). Follow-up questions work too, like “And in April?”. When the articles do not say, "
            "I tell you so instead of guessing."
        ),
    )
    known: Block = (Span(f"I know {articles} article{'s' if articles != 1 else ''}."),)
    blocks = [intro, known]
    if example_title:
        blocks.append((Span("Try for example: "), Span(f"What is known about {example_title}?", "i", trim=1)))
    blocks.append((Span("/help lists what I can do."),))
    if admin:
        blocks.append((Span("You are an admin here: /add, /remove, /reindex and /stats are yours."),))
    return blocks


def help_blocks(*, admin: bool, group: bool) -> list[Block]:
    how = (
        "In this group, ask with /ask your question, mention me, or reply to one of my messages."
        if group
        else "Just send me a question. In groups, use /ask your question, mention me, or reply to me."
    )
    guide: Block = (
        Span("How to ask", "b"),
        Span(f"\n{how}\nUnder each answer, "),
        Span("Context", "i"),
        Span(" shows more of the article around a quote, "),
        Span("Source", "i"),
        Span(" the article's details and "),
        Span("More", "i"),
        Span(" the next quotes."),
    )
    follows: Block = (
        Span("Following", "b"),
        Span(
            "\n/follow drone attacks in Iraq — when a newly indexed article answers it, I send the quote "
            "here, once per article. /following lists this chat's topics, /unfollow 2 stops the second, "
            "/unfollow alone stops all."
        ),
    )
    commands: Block = (Span("Commands", "b"), *(Span(f"\n/{c} — {d}") for c, d in PUBLIC_COMMANDS))
    blocks = [guide, follows, commands]
    if admin:
        blocks.append(
            (
                Span("Admin", "b"),
                Span(
                    "\n/add Headline, new line, text — or /add as a reply to a message or file"
                    "\n/add https://… — fetch a web page and index its article"
                    "\nSend a .txt, .md, .html, .json or .jsonl file to index it"
                    "\n/remove ID — ids are in /sources and under Source"
                    "\n/reindex — rescan the configured folders"
                    "\n/stats — index statistics"
                ),
            )
        )
    return blocks


def refused_text(user_id: int | None) -> str:
    who = f" (your id is {user_id})" if user_id is not None else ""
    return (
        f"Sorry, this bot only answers the people and chats its owner allowed{who}. Ask the owner to add you."
    )


def refused_blocks(user_id: int | None) -> list[Block]:
    return [(Span(refused_text(user_id)),)]


def admin_only(what: str) -> list[Block]:
    return [(Span(f"Sorry, only the bot's admins can {what}; nothing was changed."),)]


def slow_down_text(seconds: float) -> str:
    wait = max(1, round(seconds))
    return f"You are asking faster than I can keep up with. Please wait {wait} s and ask again."


def slow_down(seconds: float) -> list[Block]:
    return [(Span(slow_down_text(seconds)),)]


def usage(text: str) -> list[Block]:
    return [(Span(text),)]


def ingest_blocks(report: IngestReport, *, what: str) -> list[Block]:
    """The outcome of /add or /reindex: counts, and each problem in one line."""
    head: Block = (Span(f"{what}: ", "b"), Span(report.summary()))
    blocks = [head]
    if report.added or report.updated:
        blocks.append((Span("Ask away: the new articles are searchable now."),))
    if report.skipped:
        blocks.append(problem_block(report.skipped))
    return blocks


def problem_block(problems: Sequence[LoadProblem], shown: int = 10) -> Block:
    lines = [Span("Skipped:", "b")]
    lines += [Span(f"\n• {p.where}: {p.reason}", trim=1) for p in problems[:shown]]
    if len(problems) > shown:
        lines.append(Span(f"\n… and {len(problems) - shown} more"))
    return tuple(lines)


def removed_blocks(removed: Sequence[str], missing: Sequence[str]) -> list[Block]:
    blocks: list[Block] = []
    if removed:
        blocks.append(
            (
                Span(f"Removed {len(removed)} article{'s' if len(removed) != 1 else ''}:", "b"),
                *(Span(f"\n• {r}", trim=1) for r in removed),
            )
        )
    if missing:
        blocks.append(
            (
                Span("Not found (nothing removed for these):", "b"),
                *(Span(f"\n• {m}", trim=1) for m in missing),
                Span("\n/sources shows the ids."),
            )
        )
    return blocks


def stats_blocks(
    stats: Stats, *, questions: int, started: float, folders: Sequence[str], mode: str
) -> list[Block]:
    uptime = int(time.time() - started)
    hours, rest = divmod(uptime, 3600)
    lines = [
        f"Articles: {stats.articles}",
        f"Sentences: {stats.sentences} ({stats.vectors} vectors in memory)",
        f"Model: {stats.model}",
        f"Data: {stats.data_dir}",
        f"Last write: {stats.built_at or 'never'}",
        f"Questions since start: {questions}",
        f"Up: {hours} h {rest // 60} min ({mode})",
        "Folders for /reindex: " + (", ".join(folders) if folders else "none configured"),
    ]
    return [(Span("Index statistics", "b"), *(Span("\n" + line, trim=1) for line in lines))]


FOLLOW_USAGE = (
    "Say what to follow, e.g. /follow drone attacks in Iraq (words or a question). When a newly indexed "
    "article answers it, I send the quote to this chat."
)


def followed_blocks(follow: Follow, *, per_hour: int) -> list[Block]:
    return [
        (Span("Following “"), Span(follow.topic, "b", trim=1), Span("”.")),
        (
            Span(
                "When a newly indexed article answers it, I send the quote here: each article once, at most "
                f"{per_hour} alerts an hour. /following lists this chat's topics; /unfollow stops them."
            ),
        ),
    ]


def following_blocks(follows: Sequence[Follow]) -> list[Block]:
    """This chat's topics, numbered as /unfollow takes them."""
    if not follows:
        return [(Span("This chat follows no topics. "), Span(FOLLOW_USAGE))]
    n = len(follows)
    head = (Span(f"This chat follows {n} topic{'s' if n != 1 else ''}", "b"), Span(":"))
    lines = tuple(Span(f"\n{i}. {f.topic}", trim=1) for i, f in enumerate(follows, start=1))
    hint: Block = (Span("/unfollow 1 stops the first; /unfollow alone stops all."),)
    return [(*head, *lines), hint]


def unfollowed_blocks(gone: Sequence[Follow], which: str | None) -> list[Block]:
    if gone:
        topics = ", ".join(f"“{f.topic}”" for f in gone)
        return [(Span(f"Stopped following {topics}.", trim=1),)]
    if which is None:
        return [(Span("This chat follows no topics."),)]
    return [
        (
            Span("This chat does not follow “"),
            Span(which.strip(), trim=1),
            Span("”; /following lists its topics with their numbers."),
        )
    ]


def follow_refused(reason: str) -> list[Block]:
    """A FollowError's message (lower-case, written to follow 'Sorry, ') as a sentence."""
    return [(Span(f"Sorry, {reason}."),)]


def alerts_not_here(chat_id: int) -> list[Block]:
    return [
        (
            Span(
                f"Sorry, alerts only go to chats the bot's owner allowed, and this chat (id {chat_id}) "
                "is not one of them. Follow the topic in a private chat with me instead."
            ),
        )
    ]
