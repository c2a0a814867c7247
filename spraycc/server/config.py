"""Configuration: the keys, their defaults, and the TOML lookup order (docs/usage.md).

Lookup order: `$SPRAYCC_CONFIG`, `./.spraycc` in the workspace, `~/.spraycc`, then the
platformdirs user config dir (`spraycc.toml`). The first file found is the only one read.
Unknown keys and bad values are a ConfigError naming the file and the key. `conf/spraycc.toml`
documents every key; a test holds it in step with `KEYS`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spraycc.errors import ConfigError
from spraycc.server.batch import INERT_SHOWN, inert


@dataclass(frozen=True)
class Key:
    """One configuration key: its type(s), default and a check of allowed values."""

    types: tuple[type, ...]
    default: Any
    allowed: tuple[Any, ...] = ()
    minimum: float | None = None


KEYS: dict[str, Key] = {
    "start_cmd": Key((str,), ""),
    "alt_start_cmd": Key((str,), ""),
    "scheduler": Key((str,), "auto", ("auto", "lsf", "openlava", "pbs", "sge", "slurm", "local")),
    "cancel_cmd": Key((str,), ""),
    "status_cmd": Key((str,), ""),
    "initial_count": Key((int,), 5, minimum=0),
    "max_count": Key((int,), 200, minimum=1),
    "keep_pending": Key((int,), 3, minimum=0),
    "release_delay": Key((int, float), 30.0, minimum=0),
    # Waiting runners sleep between heartbeats (docs/usage.md, "What waiting runners cost"):
    # a hung server is given up after five of them.
    "runner_heartbeat": Key((int, float), 30.0, minimum=0.1),
    # An idle server holds no executor (they go after release_delay) and costs nothing, while
    # one that has gone makes the next build run locally: it waits out a working day's pauses.
    "idle_shutdown_after": Key((int, float), 8 * 3600.0, minimum=0),
    "local_count": Key((int, str), "auto", minimum=0),
    "local_slots": Key((int, str), "auto", minimum=1),
    "pending_timeout": Key((int, float), 300.0, minimum=1),
    "executor_walltime": Key((int, float), 0.0, minimum=0),
    "walltime_margin": Key((int, float), 120.0, minimum=0),
    "bind_address": Key((str,), ""),
    "callback_host": Key((str,), ""),
    "spraycc_cmd": Key((str,), ""),
    "executor_tmpdir": Key((str,), ""),
    "max_attempts": Key((int,), 3, minimum=1),
    "fallback": Key((str,), "local", ("local", "error")),
    "status_interval": Key((int, float), 5.0, minimum=0),
    "task_timeout": Key((int, float), 0.0, minimum=0),
    "rule": Key((list,), ()),  # [[rule]] tables: see validate_rules
    "straggler_factor": Key((int, float), 2.0, minimum=0),
    "straggler_min_seconds": Key((int, float), 5.0, minimum=0),
    # Inputs checked, not trusted (docs/usage.md, "Inputs are checked").
    "check_inputs": Key((bool,), True),
    "readonly_dirs": Key((list,), ("/usr", "/lib", "/lib64")),
    "stale_rerun": Key((str,), "local", ("local", "remote")),
    "stale_delay": Key((int, float), 5.0, minimum=0),
}


@dataclass(frozen=True)
class Config:
    """The effective settings; `source` is the file they came from (None: all defaults)."""

    values: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    def __getattr__(self, name: str) -> Any:
        if name in KEYS:
            return self.values.get(name, KEYS[name].default)
        raise AttributeError(name)

    def local_count_for(self, cpus: int) -> int:
        """Local executors: every CPU when there is no start command, none beside a cluster."""
        value = self.values.get("local_count", "auto")
        if value == "auto":
            return 0 if self.start_cmd else cpus
        return int(value)

    def local_slots_for(self, cpus: int) -> int:
        """How many local (non-remote) steps may run at once on the submitting host."""
        value = self.values.get("local_slots", "auto")
        return cpus if value == "auto" else int(value)


def candidates(workspace: Path) -> list[Path]:
    """Config files in lookup order (docs/usage.md, Set-up)."""
    paths: list[Path] = []
    env = os.environ.get("SPRAYCC_CONFIG")
    if env:
        paths.append(Path(env))
    paths.append(workspace / ".spraycc")
    paths.append(Path.home() / ".spraycc")
    from platformdirs import user_config_dir

    paths.append(Path(user_config_dir("spraycc")) / "spraycc.toml")
    return paths


def load(workspace: Path) -> Config:
    """The first config file in lookup order, validated; defaults when there is none."""
    explicit = os.environ.get("SPRAYCC_CONFIG")
    for path in candidates(workspace):
        if path.is_file():
            return parse(path)
        if explicit and str(path) == explicit:
            raise ConfigError(f"{path}: SPRAYCC_CONFIG names a file that does not exist")
    return Config()


def parse(path: Path) -> Config:
    """Read and validate one TOML file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return Config(validate(data, str(path)), path)


def validate(data: dict[str, Any], where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in data.items():
        key = KEYS.get(name)
        if key is None:
            raise ConfigError(f"{where}: unknown key {unknown(name, KEYS)}")
        if name == "rule":
            values[name] = validate_rules(value, where)
            continue
        if (isinstance(value, bool) and bool not in key.types) or not isinstance(value, key.types):
            kinds = " or ".join(t.__name__ for t in key.types)
            raise ConfigError(f"{where}: key '{name}' must be {kinds}, not {value!r}")
        if isinstance(value, str) and name in ("local_count", "local_slots") and value != "auto":
            raise ConfigError(f"{where}: key '{name}' must be a number or \"auto\", not {value!r}")
        if key.allowed and value not in key.allowed:
            allowed = ", ".join(repr(a) for a in key.allowed)
            raise ConfigError(f"{where}: key '{name}' must be one of {allowed}, not {value!r}")
        if (key.minimum is not None and isinstance(value, (int, float))
                and value < key.minimum):
            raise ConfigError(f"{where}: key '{name}' must be >= {key.minimum}, not {value!r}")
        if name == "readonly_dirs" and not (isinstance(value, list) and all(
                isinstance(d, str) and d.startswith("/") and ":" not in d for d in value)):
            raise ConfigError(f"{where}: key 'readonly_dirs' must be a list of absolute "
                              f"directory paths without ':', not {value!r}")
        if name in APPENDED and isinstance(value, str) and value and not inert(value):
            # never quoted into the line: a wrapper or `qsub -b y` would re-parse the quotes
            raise ConfigError(f"{where}: key '{name}' may hold only {INERT_SHOWN} (it is "
                              "appended to the start command, which shells re-parse)")
        values[name] = value
    return values


# Keys whose values land in the words appended to the start command (supply.exec_words).
APPENDED = ("executor_tmpdir", "callback_host")

RULE_KEYS = ("match", "regex", "where")


def unknown(name: str, known: Iterable[str], table: str = "") -> str:
    """`'name' (did you mean 'nearest'?)` for a misspelt key, else the list of known keys."""
    import difflib

    shown = f"'{table}.{name}'" if table else f"'{name}'"
    near = difflib.get_close_matches(name, list(known), n=1, cutoff=0.7)
    if near:
        return f"{shown} (did you mean '{near[0]}'?)"
    return f"{shown} (known keys: {', '.join(sorted(known))})"


def validate_rules(value: Any, where: str) -> list[dict[str, str]]:
    """`[[rule]]` tables: each has `where` ("remote" or "local") and exactly one of `match`
    (a glob over the command line) or `regex`. Errors name the file and `rule[N].key`."""
    if not isinstance(value, list):
        raise ConfigError(f"{where}: key 'rule' must be an array of tables ([[rule]]), "
                          f"not {value!r}")
    rules: list[dict[str, str]] = []
    for index, rule in enumerate(value):
        name = f"rule[{index}]"
        if not isinstance(rule, dict):
            raise ConfigError(f"{where}: key '{name}' must be a table with match/regex and "
                              f"where, not {rule!r}")
        for key, item in rule.items():
            if key not in RULE_KEYS:
                raise ConfigError(f"{where}: unknown key {unknown(key, RULE_KEYS, name)}")
            if not isinstance(item, str) or not item:
                raise ConfigError(f"{where}: key '{name}.{key}' must be a non-empty string, "
                                  f"not {item!r}")
        if rule.get("where") not in ("remote", "local"):
            raise ConfigError(f"{where}: key '{name}.where' must be \"remote\" or \"local\", "
                              f"not {rule.get('where')!r}")
        kinds = [k for k in ("match", "regex") if k in rule]
        if len(kinds) != 1:
            raise ConfigError(f"{where}: key '{name}' needs exactly one of 'match' (a glob) "
                              "or 'regex'")
        if "\x00" in rule[kinds[0]]:
            raise ConfigError(f"{where}: key '{name}.{kinds[0]}' contains a NUL character")
        if kinds[0] == "regex":
            import re

            try:
                re.compile(rule["regex"])
            except re.error as exc:
                raise ConfigError(f"{where}: key '{name}.regex' is not a valid regular "
                                  f"expression: {exc}") from None
        rules.append(dict(rule))
    return rules


def with_overrides(cfg: Config, **overrides: Any) -> Config:
    """A copy of `cfg` with command-line overrides (None values are ignored)."""
    values = dict(cfg.values)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Config(validate(values, "command line"), cfg.source)

