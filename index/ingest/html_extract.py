"""The article inside an HTML page: main text and the metadata the page itself states, offline.

trafilatura does the boilerplate removal (navigation, footers, comments) and the metadata lookup; this
module only turns its answer into our shape and refuses the cases that are not articles. Nothing here
fetches: the caller hands in the HTML, so extraction is deterministic and testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import trafilatura
from trafilatura.settings import Document

#: Site furniture that trafilatura's fallback extractors would otherwise return as "text" for pages
#: without an article. Headers inside an article carry its headline and date, so those stay.
_PRUNE_XPATH = [
    "//nav",
    "//*[@role='navigation']",
    "//footer",
    "//aside",
    "//header[not(ancestor::article) and not(ancestor::main)]",
]
#: Only dates the page states in its markup (meta tags, <time>, JSON-LD, URL); the "extensive" search
#: of htmldate guesses from any number in the text ("Copyright 2020" became 2020-01-01).
_DATE_PARAMS = {"extensive_search": False, "original_date": True}
#: trafilatura names the site after the URL's host when the page states no name; that is not a source.
_HOST = re.compile(r"https?://(?:www\.|w[0-9]+\.)?([^/]+)")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    title: str  # "" when the page has none
    text: str  # main article text, paragraphs separated by blank lines
    published: str | None  # ISO date (YYYY-MM-DD) if the page states one
    source: str | None  # outlet / site name if the page states one (og:site_name, publisher)
    url: str | None  # canonical URL if the page states one, else the url argument


def extract_html(html: str, url: str | None = None, *, min_words: int = 4) -> ExtractedPage | None:
    """The article in `html`, or None when the page has no article text.

    `url` is where the page came from, if known (it is never fetched). A page has no article when
    nothing is left after boilerplate removal, or when no paragraph reaches `min_words` words (a menu
    of links is not an article).
    """
    if not html.strip():
        return None
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        prune_xpath=_PRUNE_XPATH,
        date_extraction_params=dict(_DATE_PARAMS),
    )
    if not isinstance(doc, Document):  # None: nothing could be extracted
        return None
    title = _clean(doc.title or "")  # trafilatura looks at og:title, JSON-LD, <title> and <h1>
    paragraphs = _paragraphs(doc.text or "", title)
    if not any(len(p.split()) >= min_words for p in paragraphs):
        return None
    page_url = doc.url or url
    return ExtractedPage(
        title=title,
        text="\n\n".join(paragraphs),
        published=doc.date or None,
        source=_stated_source(doc.sitename, page_url),
        url=page_url,
    )


def _paragraphs(text: str, title: str) -> list[str]:
    """Non-empty stripped lines; a first line repeating the headline is dropped (it is the title)."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if lines and title and _SPACES.sub(" ", lines[0]).casefold() == title.casefold():
        lines = lines[1:]
    return lines


def _stated_source(sitename: str | None, page_url: str | None) -> str | None:
    name = _clean(sitename or "")
    if not name:
        return None
    host = _HOST.match(page_url or "")
    if host and name.casefold() == host[1].casefold():
        return None  # derived from the URL, not stated by the page
    return name


def _clean(value: str) -> str:
    return _SPACES.sub(" ", value).strip()
