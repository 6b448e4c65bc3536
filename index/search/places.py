"""Places by name: whether a question asks for one ("Which country ...", "Which state ...", "Where ...")
and whether a sentence names one the question does not.

"Biden made a secret trip to which country?" is answered by the sentence that names a country, and the
story's other sentences (who flew with him, what was said) do not. The generic name cue (cues.py) cannot
tell a country from a person; a short gazetteer can. Countries, US states and large cities, written as
news writes them; a place outside the list simply gets no lift. Pure text work, called for every
candidate of a place question, so a sentence is scanned once, word by word, against sets.
"""

from __future__ import annotations

import re
from enum import Enum

_COUNTRIES = (
    "Afghanistan|Albania|Algeria|Andorra|Angola|Antigua and Barbuda|Argentina|Armenia|Australia|Austria|"
    "Azerbaijan|Bahamas|Bahrain|Bangladesh|Barbados|Belarus|Belgium|Belize|Benin|Bhutan|Bolivia|Bosnia|"
    "Botswana|Brazil|Brunei|Bulgaria|Burkina Faso|Burundi|Cambodia|Cameroon|Canada|Cape Verde|"
    "Central African Republic|Chad|Chile|China|Colombia|Comoros|Congo|Costa Rica|Croatia|Cuba|Cyprus|"
    "Czech Republic|Czechia|Denmark|Djibouti|Dominica|Dominican Republic|East Timor|Ecuador|Egypt|"
    "El Salvador|Equatorial Guinea|Eritrea|Estonia|Eswatini|Ethiopia|Fiji|Finland|France|Gabon|Gambia|"
    "Georgia|Germany|Ghana|Greece|Grenada|Guatemala|Guinea|Guinea-Bissau|Guyana|Haiti|Honduras|Hungary|"
    "Iceland|India|Indonesia|Iran|Iraq|Ireland|Israel|Italy|Ivory Coast|Jamaica|Japan|Jordan|Kazakhstan|"
    "Kenya|Kiribati|Kosovo|Kuwait|Kyrgyzstan|Laos|Latvia|Lebanon|Lesotho|Liberia|Libya|Liechtenstein|"
    "Lithuania|Luxembourg|Madagascar|Malawi|Malaysia|Maldives|Mali|Malta|Marshall Islands|Mauritania|"
    "Mauritius|Mexico|Micronesia|Moldova|Monaco|Mongolia|Montenegro|Morocco|Mozambique|Myanmar|Burma|"
    "Namibia|Nauru|Nepal|Netherlands|Holland|New Zealand|Nicaragua|Niger|Nigeria|North Korea|"
    "North Macedonia|Norway|Oman|Pakistan|Palau|Palestine|Panama|Papua New Guinea|Paraguay|Peru|"
    "Philippines|Poland|Portugal|Qatar|Romania|Russia|Rwanda|Saint Lucia|Samoa|San Marino|Saudi Arabia|"
    "Senegal|Serbia|Seychelles|Sierra Leone|Singapore|Slovakia|Slovenia|Solomon Islands|Somalia|"
    "South Africa|South Korea|South Sudan|Spain|Sri Lanka|Sudan|Suriname|Sweden|Switzerland|Syria|Taiwan|"
    "Tajikistan|Tanzania|Thailand|Togo|Tonga|Trinidad and Tobago|Tunisia|Turkey|Turkmenistan|Tuvalu|"
    "Uganda|Ukraine|United Arab Emirates|UAE|United Kingdom|UK|Britain|England|Scotland|Wales|"
    "Northern Ireland|United States|USA|America|Uruguay|Uzbekistan|Vanuatu|Vatican|Venezuela|"
    "Vietnam|Yemen|Zambia|Zimbabwe|Hong Kong|Greenland|Puerto Rico"
).split("|")

_US_STATES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|"
    "Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|"
    "Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|"
    "North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|"
    "South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming"
).split("|")

_CITIES = (
    "New York|Los Angeles|Chicago|Houston|Phoenix|Philadelphia|San Antonio|San Diego|Dallas|San Jose|"
    "Austin|Jacksonville|Fort Worth|Columbus|Charlotte|San Francisco|Indianapolis|Seattle|Denver|"
    "Washington|Boston|El Paso|Nashville|Detroit|Oklahoma City|Portland|Las Vegas|Memphis|Louisville|"
    "Baltimore|Milwaukee|Albuquerque|Tucson|Fresno|Sacramento|Kansas City|Atlanta|Miami|Raleigh|Omaha|"
    "Minneapolis|Tulsa|Cleveland|Tampa|New Orleans|Honolulu|Pittsburgh|Cincinnati|St. Louis|Orlando|"
    "Buffalo|Salt Lake City|Mobile|London|Paris|Berlin|Madrid|Rome|Milan|Barcelona|Lisbon|Amsterdam|"
    "Brussels|Vienna|Prague|Warsaw|Budapest|Athens|Istanbul|Moscow|Kyiv|Kiev|Dublin|Edinburgh|"
    "Manchester|Liverpool|Birmingham|Glasgow|Stockholm|Oslo|Copenhagen|Helsinki|Zurich|Geneva|Munich|"
    "Frankfurt|Hamburg|Tokyo|Osaka|Beijing|Shanghai|Hong Kong|Singapore|Seoul|Taipei|Bangkok|Jakarta|"
    "Manila|Delhi|New Delhi|Mumbai|Kolkata|Karachi|Lahore|Dhaka|Tehran|Baghdad|Dubai|Doha|Riyadh|"
    "Jerusalem|Tel Aviv|Cairo|Lagos|Nairobi|Johannesburg|Cape Town|Sydney|Melbourne|Auckland|Toronto|"
    "Montreal|Vancouver|Ottawa|Mexico City|Havana|Bogota|Lima|Santiago|Buenos Aires|Rio de Janeiro|"
    "Sao Paulo|Brasilia|Caracas|Kabul|Islamabad|Beirut|Damascus|Kherson|Bakhmut|Kharkiv|Odesa|Lviv|"
    "Mariupol"
).split("|")


class Place(Enum):
    COUNTRY = "country"
    STATE = "state"  # a US state, or a state in the sense of a country
    CITY = "city"
    ANY = "any"  # "Where ..."


#: The question's noun -> the kind of place that answers it.
_NOUNS = {
    "country": Place.COUNTRY,
    "nation": Place.COUNTRY,
    "state": Place.STATE,
    "city": Place.CITY,
    "capital": Place.CITY,
    "town": Place.CITY,
}

# "which country", "what European capital", "which major U.S. city"; or "where" anywhere in the question.
_ASKS = re.compile(
    r"\b(?:which|what) (?:[\w.'’-]+ ){0,2}?(country|nation|state|city|capital|town)\b|\bwhere\b",
    re.IGNORECASE,
)


# Words, an abbreviation's dots kept ("U.S.", "St."); a hyphen or an apostrophe ends a word, so
# "Ukraine's" and "Ukraine-Russia" name Ukraine.
_WORD = re.compile(r"[A-Za-z]+(?:\.[A-Za-z]+)*\.?")


def _names(names: list[str]) -> dict[str, tuple[tuple[tuple[str, ...], str], ...]]:
    """First word -> the names starting with it (as words, and as written), longest first: matched
    greedily."""
    out: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for name in dict.fromkeys(names):  # a name in two lists (Georgia, Washington) is tried once
        words = tuple(_WORD.findall(name))
        out.setdefault(words[0], []).append((words, name.lower()))
    return {first: tuple(sorted(found, key=lambda f: -len(f[0]))) for first, found in out.items()}


_GAZETTEER = {
    Place.COUNTRY: _names(_COUNTRIES),
    Place.STATE: _names(_US_STATES + _COUNTRIES),
    Place.CITY: _names(_CITIES),
    Place.ANY: _names(_COUNTRIES + _US_STATES + _CITIES),
}
#: Every word a name of that kind starts with, also with a full stop after it: most sentences name no
#: place, and one set test tells.
_FIRST_WORDS = {kind: frozenset(names) | {w + "." for w in names} for kind, names in _GAZETTEER.items()}


def asked_place(question: str) -> Place | None:
    """The kind of place the question asks for, or None when it asks for no place."""
    m = _ASKS.search(question)
    if m is None:
        return None
    return _NOUNS[m.group(1).lower()] if m.group(1) else Place.ANY


def names_place(kind: Place, sentence: str, question: str) -> bool:
    """Whether `sentence` names a place of that kind that `question` does not (a place the question
    already names is its subject, not its answer)."""
    words = _WORD.findall(sentence)
    if _FIRST_WORDS[kind].isdisjoint(words):
        return False
    names = _GAZETTEER[kind]
    asked = question.lower()
    i = 0
    while i < len(words):
        word = words[i]
        starts = names.get(word) or (names.get(word[:-1]) if word.endswith(".") else None)
        found = _longest(starts, words, i) if starts else None
        if found is None:
            i += 1
            continue
        spelled, name = found
        if name not in asked:
            return True
        i += len(spelled)
    return False


def _longest(
    candidates: tuple[tuple[tuple[str, ...], str], ...], words: list[str], i: int
) -> tuple[tuple[str, ...], str] | None:
    """The longest of `candidates` that `words` spell from position `i` (a sentence's last word may
    carry its full stop)."""
    for spelled, name in candidates:
        end = i + len(spelled)
        if end > len(words):
            continue
        span = words[i:end]
        last = span[-1]
        if span[:-1] == list(spelled[:-1]) and (last == spelled[-1] or last == spelled[-1] + "."):
            return spelled, name
    return None
