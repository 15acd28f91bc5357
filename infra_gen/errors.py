"""The one exception tree of infra-gen.

A ``UserError`` is something the person running the tool can fix (bad input, a
missing tool, drift); the CLI prints each of its ``problems`` on one line and exits
with ``exit_code``, without a traceback. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


def printable(text: str) -> str:
    """text with every control or invisible character escaped as repr does (\\x1b,
    \\n, \\u202e): user text in an error line can neither move the cursor, colour the
    terminal nor start a new line that looks like another message."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as we can."""

    message: str
    file: str | None = None
    line: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        field = f"{self.path}: " if self.path else ""
        return printable(f"{where}{field}{self.message}")


class InfraGenError(Exception):
    """Root of every error infra-gen raises on purpose."""


class UserError(InfraGenError):
    """An error the user can fix; printed as one line per problem, no traceback."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigError(UserError):
    """The environment files are malformed, mistyped or inconsistent."""


class ProjectNotFoundError(UserError):
    """No directory with environments/ was found."""


class DriftError(UserError):
    """generated/ differs from a fresh render."""

    exit_code = 1


class ValidationFailed(UserError):
    """A generated artifact failed a check."""

    exit_code = 1


class ToolMissingError(UserError):
    """A required external tool is not installed."""

    exit_code = 1


class StackError(UserError):
    """The Docker stack could not be started, stopped or inspected."""

    exit_code = 1
