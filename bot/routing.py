"""Who a message is for, as PTB filters: app.py routes with them, as PTB's examples do, so no handler
decides whether it was addressed. Everything in a private chat is for the bot; in a group, a mention of
the bot, a reply to one of its messages, a command naming it, or a file captioned /add.

The bot's username and id are read from the message's bot when a message is checked (they are known
once the Application has started), so the filters are built before it; the rules are addressing.py's.
"""

from __future__ import annotations

import re

from telegram import Message
from telegram.ext import filters

from .addressing import addressed_command, mentions


class _MentionsBot(filters.MessageFilter):
    """A text naming the bot (@its_username)."""

    def filter(self, message: Message) -> bool:
        return mentions(message.text or "", message.get_bot().username)


class _RepliesToBot(filters.MessageFilter):
    """A reply to one of the bot's own messages."""

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == message.get_bot().id)


class _CommandToBot(filters.MessageFilter):
    """A command naming this bot (/cmd@this_bot)."""

    def filter(self, message: Message) -> bool:
        return addressed_command(message.text or "", message.get_bot().username)


NEW = filters.UpdateType.MESSAGE  # edits of old messages are not new questions
PRIVATE = filters.ChatType.PRIVATE
GROUPS = filters.ChatType.GROUPS
TEXT = NEW & filters.TEXT & ~filters.COMMAND

#: a question in a private chat: any text
PRIVATE_QUESTION = TEXT & PRIVATE
#: a question in a group: a mention of the bot (checked first: the mention is taken out of the question)
MENTION = TEXT & GROUPS & _MentionsBot(name="MentionsBot")
#: a question in a group: a reply to one of the bot's messages
REPLY_TO_BOT = TEXT & GROUPS & filters.REPLY & _RepliesToBot(name="RepliesToBot")
#: a command no handler knows, where it was surely meant for this bot
UNKNOWN_COMMAND = NEW & filters.COMMAND & (PRIVATE | _CommandToBot(name="CommandToBot"))
#: a file to index: any in a private chat; in a group only one captioned /add
UPLOAD = (
    NEW
    & filters.Document.ALL
    & (PRIVATE | filters.CaptionRegex(re.compile(r"^\s*/add(@\S*)?(\s|$)", re.IGNORECASE)))
)
