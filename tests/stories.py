"""Story texts the feed tests publish on the local web server: long enough for the extractor to keep."""

from __future__ import annotations

BRIDGE = [
    "The city council approved the new river bridge on Tuesday after a two-year delay over funding.",
    "Construction will begin in the spring and is expected to last eighteen months, officials said.",
    "Residents of the east bank have campaigned for a crossing since the old ferry closed in 2019.",
    "The mayor called the vote a turning point for the district and promised regular progress reports.",
    "Opposition councillors questioned the cost, which has risen by a third since it was first drawn up.",
    "Engineers chose a steel design after tests showed the riverbed could not carry heavy concrete piers.",
]
ZOO = [
    "Three zebras escaped from the city zoo on Friday and were found grazing in a nearby park.",
    "Keepers said the animals were calm and were led back to their enclosure within two hours.",
    "The zoo said a gate had been left unlocked after a delivery and promised to review its procedures.",
]
