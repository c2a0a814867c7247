"""What a new user meets in the first hour, run as one: spraycc installed from a wheel into a
fresh venv (see `newuser`), a fresh HOME, a working directory outside the checkout."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from newuser import ROOT, NewUser

from spraycc.userinit import SAMPLE_SPRAYCC, SCHEDULERS

# ---- the conf/ samples are in the wheel -----------------------------------------------------


def test_init_finds_the_samples_in_the_installed_package(new_user: NewUser) -> None:
    r = new_user.run("init")
    assert r.returncode == 0, r.stderr.decode()
    samples = [line for line in r.stdout.decode().splitlines() if line.split()[:1] == ["samples"]]
    assert len(samples) == 1 and samples[0].endswith("[present]"), samples
    assert str(new_user.installed.venv) in samples[0]  # the wheel's copy, not the checkout's


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_init_writes_every_sample_from_the_wheel(new_user: NewUser, scheduler: str) -> None:
    dest = new_user.home / f"{scheduler}.toml"
    r = new_user.run("init", "--scheduler", scheduler, "--config", str(dest))
    assert r.returncode == 0, r.stderr.decode()
    want = (ROOT / "conf" / f"{scheduler}.toml").read_text()
    assert dest.read_text() == want.replace(SAMPLE_SPRAYCC, new_user.spraycc)
    assert tomllib.loads(dest.read_text()).get("scheduler") == scheduler
