"""Who may use the bot and who may change its articles (pure policy, decided per update)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Admins may do everything; with an allow-list, only listed users or chats may ask."""

    admins: frozenset[int] = frozenset()
    allowed: frozenset[int] = frozenset()  # empty: everyone

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins

    def admits(self, user_id: int | None, chat_id: int | None) -> bool:
        if not self.allowed or self.is_admin(user_id):
            return True
        return (user_id is not None and user_id in self.allowed) or (
            chat_id is not None and chat_id in self.allowed
        )

    def admits_chat(self, chat_id: int) -> bool:
        """Whether alerts may go to this chat, with nobody asking: the chat itself must be admitted
        (a private chat's id is its user's id, so an allowed user's or an admin's private chat is)."""
        return self.admits(chat_id if chat_id > 0 else None, chat_id)
