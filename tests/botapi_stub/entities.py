"""Telegram's message-formatting parsers (HTML, MarkdownV2, legacy Markdown), as pure functions.

They mirror tdlib's parsers (the code Telegram's servers run), so a text the real API would reject with
"can't parse entities" is rejected here with the same wording, and offsets/lengths come out in UTF-16
code units exactly as the Bot API reports them. In a few places the stub is deliberately STRICTER than
Telegram, because Telegram "accepts" these but renders something the bot did not mean:

* a bare ``&`` or an unknown named entity (``&nbsp;``) in HTML: Telegram prints it literally;
* unknown attributes (``<b class=..>``, ``<a target=..>``): Telegram silently drops them;
* ``<a>`` without ``href`` or with a non-http(s)/tg URL: Telegram silently drops the link;
* ``<code class=..>`` whose class is not ``language-...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_UTF16 = 4096
MAX_CAPTION_UTF16 = 1024

# tdlib's is_space(): the characters that separate tag names/attributes and that get trimmed.
_SPACES = " \t\r\n\0\v\f"
_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "span"}
    | {"pre", "code", "blockquote"}
)
_ALLOWED_ATTRIBUTES = {
    "a": {"href"},
    "code": {"class"},
    "span": {"class"},
    "tg-emoji": {"emoji-id"},
    "blockquote": {"expandable"},
}
_SIMPLE_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TG_USER_LINK = re.compile(r"^tg://user\?id=(\d+)$", re.IGNORECASE)
_HTTP_LINK = re.compile(r"^(https?|tg|ton)://[^\s]+$", re.IGNORECASE)
_BARE_DOMAIN_LINK = re.compile(r"^[\w-]+(\.[\w-]+)*\.[a-z]{2,}(:\d+)?([/?#]\S*)?$", re.IGNORECASE)
# Notes appended where the stub is stricter than Telegram, so nobody hunts for these texts in Telegram's docs.
_IGNORED = "stub-strict: Telegram silently ignores it"
_NO_LINK = "stub-strict: Telegram silently drops the link"
_LITERAL_AMP = "stub-strict: Telegram prints it literally; escape '&' as &amp;"
ENTITY_TYPES = frozenset(
    {"mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold", "italic"}
    | {"underline", "strikethrough", "spoiler", "blockquote", "expandable_blockquote", "code", "pre"}
    | {"text_link", "text_mention", "custom_emoji"}
)


class EntityParseError(ValueError):
    """A text Telegram would refuse; ``str(err)`` is the part after "Bad Request: can't parse entities: "."""


@dataclass(frozen=True)
class Entity:
    """One MessageEntity; offset/length in UTF-16 code units like the Bot API."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None
    user_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            out["url"] = self.url
        if self.language is not None:
            out["language"] = self.language
        if self.custom_emoji_id is not None:
            out["custom_emoji_id"] = self.custom_emoji_id
        if self.user_id is not None:
            out["user"] = {"id": self.user_id, "is_bot": False, "first_name": f"User {self.user_id}"}
        return out


def utf16_len(text: str) -> int:
    """Telegram measures lengths and offsets in UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _u16(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _byte_offset(text: str, index: int) -> int:
    """tdlib reports positions as byte offsets into the UTF-8 text."""
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _sorted(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e.offset, -e.length))


def _drop_inside_code(entities: list[Entity]) -> list[Entity]:
    """Telegram removes formatting nested inside code/pre (and code inside pre), so the stub does too."""

    def swallowed(index: int, ent: Entity) -> bool:
        for other_index, other in enumerate(entities):
            if other_index == index or other.type not in ("code", "pre"):
                continue
            if not (other.offset <= ent.offset and ent.offset + ent.length <= other.offset + other.length):
                continue
            same_span = (other.offset, other.length) == (ent.offset, ent.length)
            if ent.type not in ("code", "pre") or (other.type, ent.type) == ("pre", "code"):
                return True
            if other.type == ent.type and (not same_span or other_index < index):
                return True
        return False

    return [ent for index, ent in enumerate(entities) if not swallowed(index, ent)]


def _link_entity(url: str, offset: int, length: int) -> Entity | None:
    user = _TG_USER_LINK.match(url)
    if user:
        return Entity("text_mention", offset, length, user_id=int(user.group(1)))
    if _HTTP_LINK.match(url) or _BARE_DOMAIN_LINK.match(url):
        return Entity("text_link", offset, length, url=url)
    return None


# ---------------------------------------------------------------- HTML


def _decode_html_entity(text: str, pos: int) -> tuple[str | None, int]:
    """tdlib's decode_html_entity: &lt; &gt; &amp; &quot; and &#NN; / &#xHH; (the ';' is optional)."""
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        base, digits = 10, "0123456789"
        if end < n and text[end] == "x":
            end += 1
            base, digits = 16, "0123456789abcdefABCDEF"
        start = end
        value = 0
        while end < n and text[end] in digits:
            value = value * base + int(text[end], 16)
            end += 1
            if value >= 0x10FFFF:
                return None, pos
        if end == start or value == 0 or 0xD800 <= value <= 0xDFFF:
            return None, pos
        char = chr(value)
    else:
        while end < n and text[end].isascii() and text[end].isalpha():
            end += 1
        named = _NAMED_HTML_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None, pos
        char = named
    if end < n and text[end] == ";":
        end += 1
    return char, end


def _bad_ampersand(text: str, pos: int) -> EntityParseError:
    match = re.match(r"&#?[A-Za-z0-9]*;?", text[pos:])
    token = match.group(0) if match else "&"
    where = f"at byte offset {_byte_offset(text, pos)}"
    if len(token) > 1:
        return EntityParseError(f'Unsupported HTML entity "{token}" {where} ({_LITERAL_AMP})')
    return EntityParseError(f'Unescaped "&" {where} ({_LITERAL_AMP})')


def _is_name_token_char(ch: str) -> bool:
    return (ch.isascii() and ch.isalnum()) or ch in ".-"


@dataclass
class _OpenTag:
    name: str
    argument: str
    has_href: bool
    utf16_offset: int
    out_len: int
    begin: int


class _HtmlParser:
    """A port of tdlib's do_parse_html with the stub's extra strictness (see module docstring)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.out: list[str] = []
        self.out_len = 0
        self.u16 = 0
        self.entities: list[Entity] = []
        self.stack: list[_OpenTag] = []

    def at(self, i: int) -> str:
        return self.text[i] if i < self.n else "\0"

    def error(self, reason: str, pos: int, note: str = "") -> EntityParseError:
        suffix = f" ({note})" if note else ""
        return EntityParseError(f"{reason} at byte offset {_byte_offset(self.text, pos)}{suffix}")

    def emit(self, chars: str) -> None:
        self.out.append(chars)
        self.out_len += len(chars)
        self.u16 += utf16_len(chars)

    def parse(self) -> tuple[str, list[Entity]]:
        i = 0
        while i < self.n:
            ch = self.text[i]
            if ch == "&":
                decoded, end = _decode_html_entity(self.text, i)
                if decoded is None:
                    raise _bad_ampersand(self.text, i)
                self.emit(decoded)
                i = end
            elif ch != "<":
                self.emit(ch)
                i += 1
            elif self.at(i + 1) == "/":
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        return "".join(self.out), _sorted(_drop_inside_code(self.entities))

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while i < self.n and self.text[i] not in _SPACES and self.text[i] != ">":
            i += 1
        if i >= self.n:
            raise self.error("Unclosed start tag", begin)
        tag = self.text[begin + 1 : i].lower()
        if tag not in _HTML_TAGS:
            raise self.error(f'Unsupported start tag "{tag}"', begin)
        argument, has_href = "", False
        while self.at(i) != ">":
            while i < self.n and self.text[i] in _SPACES:
                i += 1
            if i >= self.n:
                raise self.error("Unclosed start tag", begin)
            if self.at(i) == ">":
                break
            attr_begin = i
            while i < self.n and self.text[i] not in _SPACES and self.text[i] not in "=>":
                i += 1
            attr = self.text[attr_begin:i].lower()
            if not attr:
                raise self.error(f'Empty attribute name in the tag "{tag}"', begin)
            if attr not in _ALLOWED_ATTRIBUTES.get(tag, set()):
                raise self.error(f'Unsupported attribute "{attr}" in the tag "{tag}"', begin, _IGNORED)
            while i < self.n and self.text[i] in _SPACES:
                i += 1
            if self.at(i) != "=":
                if tag == "blockquote" and attr == "expandable":
                    argument = "expandable"
                    continue
                reason = f'Expected equal sign in declaration of an attribute of the tag "{tag}"'
                raise self.error(reason, begin)
            i += 1
            while i < self.n and self.text[i] in _SPACES:
                i += 1
            if i >= self.n:
                raise self.error(f'Unclosed start tag "{tag}"', begin)
            value, i = self.attribute_value(i)
            if i >= self.n:
                raise self.error("Unclosed start tag", begin)
            if tag == "a":
                argument, has_href = value, True
            elif tag == "code":
                if not value.startswith("language-"):
                    raise self.error(f'Unsupported class "{value}" in the tag "code"', begin, _IGNORED)
                argument = value[len("language-") :]
            elif tag == "span":
                argument = value[3:] if value.startswith("tg-") else value
            else:
                argument = value
        self.validate_start_tag(tag, argument, has_href, begin)
        self.stack.append(_OpenTag(tag, argument, has_href, self.u16, self.out_len, begin))
        return i + 1

    def attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.text[i]
        if quote not in "'\"":
            # A name token: letters, digits, periods or hyphens.
            start = i
            while i < self.n and _is_name_token_char(self.text[i]):
                i += 1
            if self.at(i) not in _SPACES and self.at(i) != ">":
                raise self.error("Unexpected end of name token", start)
            return self.text[start:i].lower(), i
        i += 1
        value: list[str] = []
        while i < self.n and self.text[i] != quote:
            if self.text[i] == "&":
                decoded, end = _decode_html_entity(self.text, i)
                if decoded is None:
                    raise _bad_ampersand(self.text, i)
                value.append(decoded)
                i = end
                continue
            value.append(self.text[i])
            i += 1
        if i < self.n:
            i += 1
        return "".join(value), i

    def validate_start_tag(self, tag: str, argument: str, has_href: bool, begin: int) -> None:
        if tag == "span" and argument != "spoiler":
            raise self.error('Tag "span" must have class "tg-spoiler"', begin)
        if tag == "a":
            if not has_href:
                raise self.error('Tag "a" must have attribute "href"', begin, _NO_LINK)
            if _link_entity(argument, 0, 1) is None:
                raise self.error(f'Invalid URL "{argument}" in the tag "a"', begin, _NO_LINK)
        if tag == "tg-emoji" and not argument.isdigit():
            raise self.error('Tag "tg-emoji" must have a numeric attribute "emoji-id"', begin)

    def end_tag(self, begin: int) -> int:
        if not self.stack:
            raise self.error("Unexpected end tag", begin)
        i = begin + 2
        while i < self.n and self.text[i] not in _SPACES and self.text[i] != ">":
            i += 1
        name = self.text[begin + 2 : i].lower()
        while i < self.n and self.text[i] in _SPACES:
            i += 1
        if self.at(i) != ">":
            raise self.error("Unclosed end tag", begin)
        top = self.stack.pop()
        if name and name != top.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {_byte_offset(self.text, begin)}, "
                f'expected "</{top.name}>", found "</{name}>"'
            )
        if self.u16 > top.utf16_offset:
            self.close_entity(top)
        return i + 1

    def close_entity(self, top: _OpenTag) -> None:
        offset, length = top.utf16_offset, self.u16 - top.utf16_offset
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and last.offset == offset and last.length == length
        if top.name in _SIMPLE_TAG_TYPES:
            self.entities.append(Entity(_SIMPLE_TAG_TYPES[top.name], offset, length))
        elif top.name == "a":
            link = _link_entity(top.argument, offset, length)
            if link is not None:
                self.entities.append(link)
        elif top.name == "tg-emoji":
            self.entities.append(Entity("custom_emoji", offset, length, custom_emoji_id=top.argument))
        elif top.name == "blockquote":
            kind = "expandable_blockquote" if top.argument == "expandable" else "blockquote"
            self.entities.append(Entity(kind, offset, length))
        elif top.name == "pre":
            if last is not None and same_span and last.type == "code" and last.language:
                self.entities[-1] = Entity("pre", offset, length, language=last.language)
            else:
                self.entities.append(Entity("pre", offset, length))
        elif top.name == "code":
            if last is not None and same_span and last.type == "pre" and top.argument:
                self.entities[-1] = Entity("pre", offset, length, language=top.argument)
            else:
                # A language on a code tag only matters if the enclosing <pre> closes right after it.
                self.entities.append(Entity("code", offset, length, language=top.argument or None))


def parse_html(text: str) -> tuple[str, list[Entity]]:
    """Parse Telegram HTML into (plain text, entities); raises EntityParseError like the real API."""
    plain, entities = _HtmlParser(text).parse()
    # "code" keeps a language only transiently (to merge into <pre>); the Bot API never reports it.
    return plain, [Entity(e.type, e.offset, e.length) if e.type == "code" else e for e in entities]


# ---------------------------------------------------------------- MarkdownV2

_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


@dataclass
class _MdOpen:
    kind: str
    argument: str
    utf16_offset: int
    begin: int
    out_len: int


def _reserved(text: str, i: int) -> EntityParseError:
    return EntityParseError(f"Character '{text[i]}' is reserved and must be escaped with the preceding '\\'")


def _skip_pre_language_and_newline(text: str, i: int) -> tuple[str, int]:
    """After an opening ```: an optional language word, then one optional line break (tdlib rules)."""
    n = len(text)
    language = ""
    end = i
    while end < n and text[end] not in _SPACES and text[end] != "`":
        end += 1
    if end != i and end < n and text[end] != "`":
        language = text[i:end]
        i = end
    if i < n and text[i] in "\r\n":
        i += 2 if i + 1 < n and text[i + 1] in "\r\n" and text[i] != text[i + 1] else 1
    return language, i


class _MarkdownV2Parser:
    """A port of tdlib's do_parse_markdown_v2 (blockquotes handled line by line)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.out: list[str] = []
        self.out_len = 0
        self.u16 = 0
        self.entities: list[Entity] = []
        self.stack: list[_MdOpen] = []
        self.quote: tuple[int, bool] | None = None  # (utf16 offset, expandable) of an open blockquote
        self.quote_end = 0

    def at(self, i: int) -> str:
        return self.text[i] if i < self.n else "\0"

    def emit(self, chars: str) -> None:
        self.out.append(chars)
        self.out_len += len(chars)
        self.u16 += utf16_len(chars)

    def in_code(self) -> bool:
        return bool(self.stack) and self.stack[-1].kind in ("code", "pre", "pre_code")

    def parse(self) -> tuple[str, list[Entity]]:
        i = 0
        while i < self.n:
            if (i == 0 or self.text[i - 1] == "\n") and not self.in_code():
                i = self.line_start(i)
                if i >= self.n:
                    break
            ch = self.text[i]
            if ch == "\\" and 0 < ord(self.at(i + 1)) <= 126:
                self.emit(self.text[i + 1])
                i += 2
                continue
            reserved = "`" if self.in_code() else _MDV2_RESERVED
            if ch not in reserved:
                if ch == "\n" and self.quote is not None:
                    self.quote_end = self.u16
                self.emit(ch)
                i += 1
                continue
            if self.quote is not None and self.quote[1] and self.closes_expandable(i):
                self.quote_end = self.u16
                self.close_quote()
                i += 2
                continue
            i = self.end_entity(i) if self.is_end(i) else self.begin_entity(i)
        if self.quote is not None:
            self.quote_end = self.u16
            self.close_quote()
        if self.stack:
            top = self.stack[-1]
            raise EntityParseError(
                f"Can't find end of {_MDV2_TYPE_NAMES[top.kind]} entity at byte offset "
                f"{_byte_offset(self.text, top.begin)}"
            )
        return "".join(self.out), _sorted(_drop_inside_code(self.entities))

    def line_start(self, i: int) -> int:
        """Blockquote lines start with '>' (or '**>' for an expandable one); other lines end a quote."""
        expandable = self.text.startswith("**>", i)
        if self.at(i) == ">" or expandable:
            if self.quote is None:
                self.quote = (self.u16, expandable)
            return i + (3 if expandable else 1)
        if self.quote is not None:
            self.close_quote()
        return i

    def closes_expandable(self, i: int) -> bool:
        if not (self.at(i) == "|" and self.at(i + 1) == "|" and self.at(i + 2) in "\n\0"):
            return False
        return not (self.stack and self.stack[-1].kind == "spoiler")

    def close_quote(self) -> None:
        assert self.quote is not None
        start, expandable = self.quote
        end = self.quote_end if self.quote_end > start else self.u16
        # The line break that ends the quote's last line is not part of the entity.
        if end > start:
            kind = "expandable_blockquote" if expandable else "blockquote"
            self.entities.append(Entity(kind, start, end - start))
        self.quote = None

    def is_end(self, i: int) -> bool:
        if not self.stack:
            return False
        ch, nxt = self.text[i], self.at(i + 1)
        kind = self.stack[-1].kind
        return {
            "bold": ch == "*",
            "italic": ch == "_" and nxt != "_",
            "code": ch == "`",
            "pre": ch == "`" and nxt == "`" and self.at(i + 2) == "`",
            "pre_code": ch == "`" and nxt == "`" and self.at(i + 2) == "`",
            "text_link": ch == "]",
            "underline": ch == "_" and nxt == "_",
            "strikethrough": ch == "~",
            "spoiler": ch == "|" and nxt == "|",
            "custom_emoji": ch == "]",
        }[kind]

    def begin_entity(self, i: int) -> int:
        ch, nxt = self.text[i], self.at(i + 1)
        begin, argument = i, ""
        if ch == "_":
            kind = "underline" if nxt == "_" else "italic"
            i += 2 if nxt == "_" else 1
        elif ch == "*":
            kind, i = "bold", i + 1
        elif ch == "~":
            kind, i = "strikethrough", i + 1
        elif ch == "|" and nxt == "|":
            kind, i = "spoiler", i + 2
        elif ch == "[":
            kind, i = "text_link", i + 1
        elif ch == "!" and nxt == "[":
            kind, i = "custom_emoji", i + 2
        elif ch == "`" and nxt == "`" and self.at(i + 2) == "`":
            argument, i = _skip_pre_language_and_newline(self.text, i + 3)
            kind = "pre_code" if argument else "pre"
        elif ch == "`":
            kind, i = "code", i + 1
        else:
            raise _reserved(self.text, i)
        self.stack.append(_MdOpen(kind, argument, self.u16, begin, self.out_len))
        return i

    def end_entity(self, i: int) -> int:
        top = self.stack.pop()
        offset, length = top.utf16_offset, self.u16 - top.utf16_offset
        entity: Entity | None = None
        if top.kind in ("bold", "italic", "code", "strikethrough"):
            i += 1
            entity = Entity(top.kind, offset, length)
        elif top.kind in ("underline", "spoiler"):
            i += 2
            entity = Entity(top.kind, offset, length)
        elif top.kind in ("pre", "pre_code"):
            i += 3
            entity = Entity("pre", offset, length, language=top.argument or None)
        elif top.kind == "text_link":
            url, i = self.link_target(i, top)
            entity = _link_entity(url, offset, length)
        else:
            url, i = self.link_target(i, top)
            match = re.match(r"^tg://emoji\?id=(\d+)$", url)
            if match is None:
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            entity = Entity("custom_emoji", offset, length, custom_emoji_id=match.group(1))
        if entity is not None and length > 0:
            self.entities.append(entity)
        return i

    def link_target(self, i: int, top: _MdOpen) -> tuple[str, int]:
        """At the closing ']': read '(url)' with '\\' escapes, or use the link text itself as the URL."""
        if self.at(i + 1) != "(":
            return "".join(self.out)[top.out_len :], i + 1
        i += 2
        url_begin = i
        url: list[str] = []
        while i < self.n and self.text[i] != ")":
            if self.text[i] == "\\" and 0 < ord(self.at(i + 1)) <= 126:
                url.append(self.text[i + 1])
                i += 2
                continue
            url.append(self.text[i])
            i += 1
        if i >= self.n:
            where = _byte_offset(self.text, url_begin)
            raise EntityParseError(f"Can't find end of a URL at byte offset {where}")
        return "".join(url), i + 1


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    """Parse MarkdownV2 into (plain text, entities); every reserved character must be escaped."""
    return _MarkdownV2Parser(text).parse()


# ---------------------------------------------------------------- legacy Markdown


def parse_markdown(text: str) -> tuple[str, list[Entity]]:
    """Legacy Markdown (tdlib's parse_markdown): _italic_, *bold*, `code`, ```pre```, [text](url)."""
    out: list[str] = []
    u16 = 0
    entities: list[Entity] = []
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        if ch not in "_*`[":
            out.append(ch)
            u16 += _u16(ch)
            i += 1
            continue
        begin = i
        end_char = "]" if ch == "[" else ch
        i += 1
        is_pre, language = False, ""
        if ch == "`" and text.startswith("``", i):
            is_pre = True
            language, i = _skip_pre_language_and_newline(text, i + 2)
        offset = u16
        inner_start = len(out)
        while i < n and (text[i] != end_char or (is_pre and not text.startswith("```", i))):
            out.append(text[i])
            u16 += _u16(text[i])
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        length = u16 - offset
        entity: Entity | None = None
        if ch == "[":
            url = "".join(out[inner_start:])
            if i + 1 < n and text[i + 1] == "(":
                i += 2
                url_chars = []
                while i < n and text[i] != ")":
                    url_chars.append(text[i])
                    i += 1
                url = "".join(url_chars)
            entity = _link_entity(url, offset, length)
        elif ch == "_":
            entity = Entity("italic", offset, length)
        elif ch == "*":
            entity = Entity("bold", offset, length)
        else:
            entity = Entity("pre" if is_pre else "code", offset, length, language=language or None)
        if entity is not None and length > 0:
            entities.append(entity)
        i += 3 if is_pre else 1
    return "".join(out), _sorted(entities)


# ---------------------------------------------------------------- common entry point


def validate_entities(text: str, raw: list[Any]) -> list[Entity]:
    """Explicit ``entities``/``caption_entities`` (no parse_mode): well-formed and inside the text."""
    total = utf16_len(text)
    result = []
    for item in raw:
        if not isinstance(item, dict) or item.get("type") not in ENTITY_TYPES:
            raise EntityParseError(f"Unsupported entity {item!r}")
        offset, length = item.get("offset"), item.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length <= 0:
            raise EntityParseError(f"Invalid entity offset/length in {item!r}")
        if offset + length > total:
            raise EntityParseError(f"Entity {item!r} ends beyond the end of the text")
        user = item.get("user")
        result.append(
            Entity(
                item["type"],
                offset,
                length,
                url=item.get("url"),
                language=item.get("language"),
                custom_emoji_id=item.get("custom_emoji_id"),
                user_id=user.get("id") if isinstance(user, dict) else None,
            )
        )
    return _sorted(result)


def _trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Telegram strips leading/trailing whitespace and drops '\\r'; entities are clipped to match."""
    kept: list[str] = []
    removed_before: list[int] = []  # UTF-16 units removed before each original UTF-16 position
    removed = 0
    for ch in text:
        for _ in range(_u16(ch)):
            removed_before.append(removed)
        if ch == "\r":
            removed += 1
        else:
            kept.append(ch)
    removed_before.append(removed)
    cleaned = "".join(kept)

    def moved(pos: int) -> int:
        return pos - removed_before[pos]

    lead_chars = len(cleaned) - len(cleaned.lstrip(_SPACES))
    stripped = cleaned.strip(_SPACES)
    lead = utf16_len(cleaned[:lead_chars])
    total = utf16_len(stripped)
    result = []
    for ent in entities:
        start = max(moved(ent.offset) - lead, 0)
        end = min(moved(ent.offset + ent.length) - lead, total)
        if end > start:
            result.append(
                Entity(ent.type, start, end - start, ent.url, ent.language, ent.custom_emoji_id, ent.user_id)
            )
    return stripped, result


PARSE_MODES = ("HTML", "MarkdownV2", "Markdown")


def parse_text(
    text: str, parse_mode: str | None, explicit_entities: list[Any] | None = None
) -> tuple[str, list[Entity]]:
    """What Telegram stores for a message: parsed, '\\r'-free, whitespace-trimmed text and its entities."""
    if explicit_entities is not None:
        plain, entities = text, validate_entities(text, explicit_entities)
    elif parse_mode is None:
        plain, entities = text, []
    elif parse_mode == "HTML":
        plain, entities = parse_html(text)
    elif parse_mode == "MarkdownV2":
        plain, entities = parse_markdown_v2(text)
    elif parse_mode == "Markdown":
        plain, entities = parse_markdown(text)
    else:
        raise ValueError(f"unsupported parse_mode {parse_mode!r}")
    return _trim(plain, entities)
