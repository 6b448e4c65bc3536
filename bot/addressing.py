"""Which messages ask the bot something (pure): everything in a private chat; in groups only what is
addressed to it, a mention or a reply to one of its messages (commands are routed separately)."""

from __future__ import annotations

import re

from .formatting import squash


def command_argument(text: str) -> str:
    """'/add@bot Headline\\nbody' -> 'Headline\\nbody': everything after the command, line breaks kept."""
    parts = text.strip().split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def question_in(text: str, *, private: bool, bot_username: str | None, replied_to_bot: bool) -> str | None:
    """The question `text` asks the bot; None when the message is not addressed to the bot at all.

    An empty string means it was addressed to the bot but asked nothing (a bare mention).
    """
    if private:
        return text.strip()
    if bot_username:
        mention = re.compile(rf"@{re.escape(bot_username)}\b", re.IGNORECASE)
        if mention.search(text):
            return squash(mention.sub(" ", text)).strip(" ,:")
    if replied_to_bot:
        return text.strip()
    return None
