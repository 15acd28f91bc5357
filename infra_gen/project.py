"""Where a project lives: environments/, templates/ and generated/ under one root.

Only environments/ is required: templates/ holds the project's own templates, each
shadowing the bundled one of the same path (infra_gen/render.py), and generated/ is
written by `render`. The project is found from a start directory upward: the
`-C/--project DIR` option, else $INFRA_GEN_PROJECT, else the current directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import ConfigError, ProjectNotFoundError
from .loader import environment_files, load_environment
from .model import Environment


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        """The nearest directory, from start upward, with an environments/ directory."""
        if start is not None and not start.is_dir():
            raise ProjectNotFoundError(f"no project found: {start} is not a directory")
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / "environments").is_dir():
                return cls(candidate)
        raise ProjectNotFoundError(
            f"no project found: neither {here} nor a parent has environments/ "
            "(`infra-gen init` makes one; -C DIR or INFRA_GEN_PROJECT selects one)"
        )

    @property
    def environments_dir(self) -> Path:
        return self.root / "environments"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def generated_dir(self) -> Path:
        return self.root / "generated"

    @cached_property
    def environment_names(self) -> list[str]:
        return list(environment_files(self.environments_dir))

    def environment_path(self, name: str) -> Path:
        files = environment_files(self.environments_dir)
        if name not in files:
            raise ConfigError(
                f"unknown environment {name!r}; expected one of: {', '.join(files) or '(none)'} "
                f"(files in {self.environments_dir})"
            )
        return files[name]

    def load(self, name: str) -> Environment:
        return load_environment(self.environment_path(name))
