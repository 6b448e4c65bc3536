from __future__ import annotations

from newsqa.index.ingest.html_extract import ExtractedPage, extract_html

ARTICLE_PAGE = """<!DOCTYPE html>
<html><head>
<title>Drones hit base &amp; airport | Daily Planet</title>
<meta property="og:site_name" content="Daily Planet">
<meta property="og:title" content="Drones hit base &amp; airport">
<meta property="article:published_time" content="2021-06-14T09:30:00Z">
<link rel="canonical" href="https://dailyplanet.example/world/drones">
</head><body>
<header><a href="/">Daily Planet home</a> <a href="/login">Sign in to your account today</a></header>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World news and analysis</a></li>
<li>Subscribe now for unlimited access</li></ul></nav>
<article>
<h1>Drones hit base &amp; airport</h1>
<p>Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday, officials in S&#227;o Paulo
said.</p>
<p>Erbil International Airport was also targeted by an explosives-laden drone in April &mdash; the third
such attack this year.</p>
<p>The US Central Command said the threat was &ldquo;concerning&rdquo; and it would act.</p>
</article>
<aside><p>Related: ten things you never knew about drones and their many uses</p></aside>
<div class="comments" id="comments"><p>Great article, thanks for writing it, I agree!</p></div>
<footer><p>Copyright 2020 Daily Planet. All rights reserved. Read our privacy policy.</p></footer>
</body></html>
"""


def page(head: str, body: str) -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


BODY = "<article><p>The council met on Tuesday to discuss the new bridge, two years late.</p></article>"


def test_article_text_without_boilerplate() -> None:
    got = extract_html(ARTICLE_PAGE)
    assert got is not None
    assert got.text.split("\n\n") == [
        "Ain al-Asad airbase was targeted by drones shortly after midnight on Sunday, officials in São Paulo"
        " said.",
        "Erbil International Airport was also targeted by an explosives-laden drone in April — the third"
        " such attack this year.",
        "The US Central Command said the threat was “concerning” and it would act.",
    ]
    for boilerplate in ("Subscribe", "Sign in", "Home", "Related", "Great article", "Copyright", "privacy"):
        assert boilerplate not in got.text


def test_metadata_and_entities() -> None:
    got = extract_html(ARTICLE_PAGE)
    assert got == ExtractedPage(
        title="Drones hit base & airport",
        text=got.text if got else "",
        published="2021-06-14",
        source="Daily Planet",
        url="https://dailyplanet.example/world/drones",
    )
    assert got is not None
    assert "&" not in got.text and "São Paulo" in got.text and "—" in got.text
    assert not got.text.startswith("Drones hit base")  # the headline is the title, not a paragraph


def test_canonical_url_wins_over_argument_and_argument_is_the_fallback() -> None:
    got = extract_html(ARTICLE_PAGE, url="https://mirror.example/copy")
    assert got is not None and got.url == "https://dailyplanet.example/world/drones"
    plain = extract_html(page("<title>Council meets</title>", BODY), url="https://www.herald.example/a/1")
    assert plain is not None and plain.url == "https://www.herald.example/a/1"


def test_title_falls_back_to_title_tag_and_unstated_fields_are_none() -> None:
    got = extract_html(
        page("<title>Council meets &amp; argues</title>", BODY), url="https://www.herald.example/a"
    )
    assert got is not None
    assert got.title == "Council meets & argues"
    assert got.text == "The council met on Tuesday to discuss the new bridge, two years late."
    assert got.published is None
    assert got.source is None  # not the host name: the page states no outlet


def test_no_title_at_all_gives_empty_title() -> None:
    got = extract_html(page("", BODY))
    assert got is not None and got.title == ""


def test_publisher_and_date_from_json_ld() -> None:
    ld = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",'
        ' "headline": "Bridge delayed again", "datePublished": "2020-02-03T08:00:00+00:00",'
        ' "publisher": {"@type": "Organization", "name": "The Herald"}}</script>'
    )
    got = extract_html(page(ld, BODY))
    assert got is not None
    assert (got.title, got.published, got.source) == ("Bridge delayed again", "2020-02-03", "The Herald")


def test_copyright_year_is_not_a_publication_date() -> None:
    got = extract_html(page("<title>Council</title>", BODY + "<p>Copyright 2019 The Herald</p>"))
    assert got is not None and got.published is None


def test_page_without_article_gives_none() -> None:
    nav_only = page(
        "<title>Daily Planet</title>",
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        "<footer>Copyright 2020 Daily Planet</footer>",
    )
    assert extract_html(nav_only) is None
    link_menu = page("<title>Index</title>", "<div><a href='/a'>News</a> <a href='/b'>Sport</a></div>")
    assert extract_html(link_menu) is None
    assert extract_html(page("<title>Empty</title>", "")) is None
    assert extract_html("") is None
    assert extract_html("   \n") is None


def test_deterministic() -> None:
    assert extract_html(ARTICLE_PAGE) == extract_html(ARTICLE_PAGE)
