"""Configuration: lookup order, validation messages, and the documented sample file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spraycc.errors import ConfigError
from spraycc.server import config

ROOT = Path(__file__).resolve().parents[2]


def test_sample_documents_every_key() -> None:
    text = (ROOT / "conf" / "spraycc.toml").read_text()
    documented = set(re.findall(r"^# ?([a-z_]+) = ", text, re.M))
    assert documented == set(config.KEYS)


def test_sample_parses_when_uncommented(tmp_path: Path) -> None:
    lines = [
        line[2:]
        for line in (ROOT / "conf" / "spraycc.toml").read_text().splitlines()
        if re.match(r"^# [a-z_]+ = ", line)
    ]
    seen: dict[str, str] = {}
    for line in lines:  # the sample shows some keys twice (an example, then the default)
        seen[line.split(" = ")[0]] = line
    path = tmp_path / "c.toml"
    path.write_text("\n".join(seen.values()) + "\n")
    cfg = config.parse(path)
    assert cfg.source == path


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SPRAYCC_CONFIG", raising=False)
    cfg = config.load(tmp_path)
    assert cfg.source is None
    assert cfg.initial_count == 5 and cfg.max_count == 200 and cfg.keep_pending == 3
    assert cfg.release_delay == 30 and cfg.idle_shutdown_after == 8 * 3600
    assert cfg.local_count_for(8) == 8


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".spraycc").write_text("max_count = 7\n")
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.delenv("SPRAYCC_CONFIG", raising=False)
    assert config.load(ws).max_count == 7
    (ws / ".spraycc").write_text("max_count = 8\n")
    assert config.load(ws).max_count == 8
    env_cfg = tmp_path / "env.toml"
    env_cfg.write_text("max_count = 9\n")
    monkeypatch.setenv("SPRAYCC_CONFIG", str(env_cfg))
    assert config.load(ws).max_count == 9
    monkeypatch.setenv("SPRAYCC_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        config.load(ws)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("max_cont = 3\n", "unknown key 'max_cont'"),
        ("max_count = 'x'\n", "key 'max_count' must be int"),
        ("max_count = 0\n", "key 'max_count' must be >= 1"),
        ("fallback = 'maybe'\n", "key 'fallback' must be one of"),
        ("local_count = 'lots'\n", "key 'local_count' must be a number or \"auto\""),
        ("release_delay = true\n", "key 'release_delay' must be"),
        ("max_count = [\n", "not valid TOML"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        config.parse(path)
    assert needle in str(info.value) and str(path) in str(info.value)
