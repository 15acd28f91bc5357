"""The `infra-gen` console script: `render` and `check` without importing the Typer CLI.

Those two are what people and CI wait on, and starting Typer, click and rich was a
large share of a render's process time (benchmarks/render.py). Their plain forms are
parsed here and run through the same functions the Typer commands call
(infra_gen/commands.py). Anything else (another command, --help, an option this
parser does not know, an INFRA_GEN_* variable the CLI may read) goes to the Typer CLI
unchanged: cli.py stays the one definition of the interface, and this module only
takes the shortest way through it. tests/unit/test_entry.py checks both ways print,
write and exit alike, and that a render imports neither typer nor rich.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

# Options each fast command takes, with whether they take a value.
_OPTIONS: dict[str, dict[str, bool]] = {
    "render": {"--all": False, "--root": True, "--out": True},
    "check": {"--root": True},
}


def parse(argv: Sequence[str]) -> tuple[str, list[str], dict[str, str | bool]] | None:
    """(command, positional arguments, options) of a plain render/check; None otherwise."""
    if not argv or argv[0] not in _OPTIONS or any(k.startswith("INFRA_GEN_") for k in os.environ):
        return None
    known = _OPTIONS[argv[0]]
    names: list[str] = []
    options: dict[str, str | bool] = {}
    rest = list(argv[1:])
    while rest:
        arg = rest.pop(0)
        if not arg.startswith("-"):
            names.append(arg)
            continue
        option, eq, value = arg.partition("=")
        if option not in known:
            return None  # --help, --format, a typo: the CLI answers
        if not known[option]:
            if eq:
                return None
            options[option] = True
        elif eq:
            options[option] = value
        elif rest and not rest[0].startswith("-"):
            options[option] = rest.pop(0)
        else:
            return None  # a missing value: the CLI says so, with the usage
    if argv[0] == "check" and names:
        return None
    return argv[0], names, options


def _run(command: str, names: list[str], options: dict[str, str | bool]) -> int:
    from . import commands
    from .errors import UserError

    def path(option: str) -> Path | None:
        value = options.get(option)
        return Path(value) if isinstance(value, str) else None

    run: Callable[[], list[str]]
    if command == "render":
        def run() -> list[str]:
            return commands.render(path("--root"), names, bool(options.get("--all")), path("--out"))
    else:
        def run() -> list[str]:
            return [commands.check(path("--root"))]
    try:
        lines = run()
    except UserError as exc:  # as the CLI reports it (cli.main): one line per problem
        sys.stdout.flush()
        for problem in exc.problems:
            sys.stderr.write(f"error: {problem}\n")
        sys.stderr.flush()
        return exc.exit_code
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0


def main() -> None:
    parsed = parse(sys.argv[1:])
    if parsed is None:
        from .cli import main as cli_main

        cli_main()
        return
    sys.exit(_run(*parsed))
