"""`spraycc init`: the paths it prints, the starter config per scheduler, idempotence.
(The key and the file-descriptor limit are tested with the security work; the masquerade
directory in test_dropin.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SPRAYCC, run

from spraycc.server import config
from spraycc.userinit import SAMPLE_SPRAYCC, SCHEDULERS


def test_init_prints_every_path(workspace: Path, env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    r = run([SPRAYCC, "init"], workspace, env)
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    for path in (workspace / ".spraycc", home / ".spraycc",
                 Path(env["XDG_CONFIG_HOME"]) / "spraycc" / "spraycc.toml",
                 home / ".spraycc.private", Path(env["SPRAYCC_HISTORY"]),
                 Path(env["XDG_STATE_HOME"]) / "spraycc" / "log" / "server.log",
                 workspace / ".spraycc_server"):
        assert str(path) in out, (path, out)
    assert "spraycc init --scheduler" in out  # no config yet: the offer of a starter one
    again = run([SPRAYCC, "init"], workspace, env)
    assert again.returncode == 0 and "[present]" in again.stdout.decode()
    # An explicit $SPRAYCC_CONFIG comes first in the lookup and is listed.
    explicit = workspace / "mine.toml"
    explicit.write_text("max_count = 4\n")
    r = run([SPRAYCC, "init"], workspace, dict(env, SPRAYCC_CONFIG=str(explicit)))
    assert f"config (1)   {explicit}  [in use]" in r.stdout.decode()


def test_starter_config_is_written_once(workspace: Path, env: dict[str, str]) -> None:
    target = Path(env["HOME"]) / ".spraycc"
    r = run([SPRAYCC, "init", "--scheduler", "slurm"], workspace, env)
    assert r.returncode == 0, r.stderr.decode()
    text = target.read_text()
    cfg = config.parse(target)
    assert cfg.scheduler == "slurm" and cfg.start_cmd.startswith("sbatch ")
    assert SAMPLE_SPRAYCC not in text and cfg.start_cmd.endswith(f" {SPRAYCC}")
    assert "wrote a starter config for slurm" in r.stdout.decode()
    target.write_text(text + "# my edits\n")
    r = run([SPRAYCC, "init", "--scheduler", "lsf"], workspace, env)
    assert r.returncode == 0 and "left alone" in r.stdout.decode()
    assert target.read_text().endswith("# my edits\n")  # never overwritten


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_sample_makes_a_valid_config(tmp_path: Path, env: dict[str, str],
                                           scheduler: str) -> None:
    dest = tmp_path / "sub" / f"{scheduler}.toml"
    r = run([SPRAYCC, "init", "--scheduler", scheduler, "--config", str(dest)], tmp_path, env)
    assert r.returncode == 0, r.stderr.decode()
    cfg = config.parse(dest)
    assert cfg.scheduler == scheduler
    assert SAMPLE_SPRAYCC not in dest.read_text()
    assert not (Path(env["HOME"]) / ".spraycc").exists()


def test_config_without_scheduler_is_an_error(workspace: Path, env: dict[str, str]) -> None:
    r = run([SPRAYCC, "init", "--config", str(workspace / "x.toml")], workspace, env)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == ["spraycc: --config needs --scheduler (which "
                                              "sample to write)"]
