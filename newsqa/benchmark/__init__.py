"""`newsqa dev bench`: the speed, memory and recall figures of docs/bench.md, measured on this machine.

command.py is the click command; each other module measures one thing and returns plain numbers.
"""

from __future__ import annotations
