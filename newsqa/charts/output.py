"""The command-line edge of the charts: the --plot option, the atomic write, one-line errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def plot_option(what: str) -> Callable[[Any], Any]:
    """`--plot FILE.png`: also draw `what` into a PNG file (checked before any work is done)."""
    return click.option(
        "--plot",
        "plot",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE.png",
        callback=_check_plot_path,
        help=f"Also draw {what} as a PNG chart into FILE.png (needs matplotlib).",
    )


def _check_plot_path(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    """Refuse a path the chart could never be written to now, not after a long run."""
    if value is None:
        return None
    if value.suffix.lower() != ".png":
        raise click.BadParameter(f"{value}: the chart is a PNG, so name the file *.png")
    folder = value.parent
    if not folder.is_dir():
        raise click.BadParameter(f"{folder} is not an existing folder")
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"{folder} is not writable")
    return value


def save_chart(path: Path, draw: Callable[[], bytes]) -> None:
    """Draw, then write the PNG atomically (a temp file renamed over `path`): a reader never sees half a
    picture, and a failed run leaves an earlier chart as it was. Failures are one line (exit 1)."""
    from newsqa.index.storage.datadir import atomic_write_bytes

    from .draw import PlotError

    try:
        data = draw()
    except PlotError as exc:
        raise click.ClickException(f"{exc}; {path} not written") from None
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise click.ClickException(f"cannot write the chart to {path}: {exc.strerror or exc}") from None
    click.echo(f"chart written to {path}", err=True)


def save_timeline(answer: Any, path: Path) -> None:
    """`newsqa timeline --plot`: the chart of the entries the text timeline printed."""
    from .draw import timeline_png
    from .timeline import timeline_plot

    save_chart(path, lambda: timeline_png(timeline_plot(answer)))
