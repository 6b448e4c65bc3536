"""Which messages ask the bot something (pure): everything in a private chat; in groups only what is
addressed to it, a mention or a reply to one of its messages (commands are routed separately).

The bot routes with PTB filters built on these rules (routing.py); `question_in` is the whole rule in one
call, for reading and for the tests."""

from __future__ import annotations

import re

from .formatting import squash


def command_argument(text: str) -> str:
    """'/add@bot Headline\\nbody' -> 'Headline\\nbody': everything after the command, line breaks kept."""
    parts = text.strip().split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def _mention(bot_username: str) -> re.Pattern[str]:
    return re.compile(rf"@{re.escape(bot_username)}\b", re.IGNORECASE)


def mentions(text: str, bot_username: str | None) -> bool:
    """Whether `text` names the bot (@its_username, any case)."""
    return bool(bot_username) and _mention(bot_username or "").search(text) is not None


def without_mention(text: str, bot_username: str | None) -> str:
    """The question a mention asks: the text with the mention taken out ('' for a bare mention)."""
    if not bot_username:
        return text.strip()
    return squash(_mention(bot_username).sub(" ", text)).strip(" ,:")


def addressed_command(text: str, bot_username: str | None) -> bool:
    """Whether a group command names this bot ('/cmd@this_bot'); a bare '/cmd' may be for another bot."""
    command = text.split(None, 1)[0] if text.strip() else ""
    return command.lower().endswith(f"@{(bot_username or '').lower()}")


def question_in(text: str, *, private: bool, bot_username: str | None, replied_to_bot: bool) -> str | None:
    """The question `text` asks the bot; None when the message is not addressed to the bot at all.

    An empty string means it was addressed to the bot but asked nothing (a bare mention).
    """
    if private:
        return text.strip()
    if mentions(text, bot_username):
        return without_mention(text, bot_username)
    if replied_to_bot:
        return text.strip()
    return None
