"""Global options after the command too: `newsqa ask "..." --data-dir d` as `newsqa --data-dir d ask "..."`.

click reads a group's options only before its subcommand, but people add a flag at the end of the line
they just ran. So the group's own options found after the subcommand are moved in front of it before
click parses, unless the command they follow has an option of the same name (then it is that command's).
A `--` ends the search: what follows is arguments, however it looks.
"""

from __future__ import annotations

import click


def hoist(group: click.Group, ctx: click.Context, args: list[str]) -> list[str]:
    """`args` with `group`'s options that follow its subcommand moved before it (values kept with them)."""
    takes_value = _global_options(group)
    start = _command_index(args, takes_value)
    if start is None:
        return args
    own = _options_along(group, ctx, args[start:])
    moved: list[str] = []
    rest: list[str] = []
    tail = args[start:]
    i = 0
    while i < len(tail):
        token = tail[i]
        if token == "--":
            rest += tail[i:]
            break
        name = token.split("=", 1)[0]
        if name in takes_value and name not in own:
            with_value = takes_value[name] and "=" not in token and i + 1 < len(tail)
            moved += tail[i : i + 2] if with_value else [token]
            i += 2 if with_value else 1
            continue
        rest.append(token)
        i += 1
    return [*args[:start], *moved, *rest]


def _global_options(group: click.Group) -> dict[str, bool]:
    """Each of the group's option names -> whether it takes a value (help and version stay where they are)."""
    names: dict[str, bool] = {}
    for param in group.params:
        if not isinstance(param, click.Option) or param.is_eager:
            continue
        for opt in (*param.opts, *param.secondary_opts):
            names[opt] = not (param.is_flag or param.count)
    return names


def _command_index(args: list[str], takes_value: dict[str, bool]) -> int | None:
    """Where the subcommand's name is: the first word that is neither a global option nor its value."""
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("-"):
            return i
        if token == "--":
            return None
        name = token.split("=", 1)[0]
        i += 2 if takes_value.get(name) and "=" not in token else 1
    return None


def _options_along(group: click.Group, ctx: click.Context, tail: list[str]) -> set[str]:
    """The option names of the commands `tail` names (`index add`: the index group's and add's)."""
    names: set[str] = set()
    command: click.Command | None = group
    words = [t for t in tail if not t.startswith("-")]
    for word in words:
        if not isinstance(command, click.Group):
            break
        command = command.get_command(ctx, word)
        if command is None:
            break
        for param in command.params:
            if isinstance(param, click.Option):
                names.update((*param.opts, *param.secondary_opts))
    return names
