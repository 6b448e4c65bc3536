"""Charts of what newsqa prints: the timeline, and the eval and bench tables.

Three layers, so the part worth testing needs no plotting library: `timeline` and `tables` turn answers and
table rows into plain data (pure functions), `draw` turns that data into a matplotlib figure and PNG bytes
(matplotlib is imported there, inside the functions, with the Agg backend), and `output` is the thin
command-line edge (the --plot option, the atomic write, one-line errors).
"""
