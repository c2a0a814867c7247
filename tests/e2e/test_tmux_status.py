"""`spraycc status` in a real terminal: tmux runs it in a pane during a real build, and the
screen (capture-pane) must show numbers that change while the build runs, then a clean exit
when the server goes away; Ctrl-C leaves without a traceback."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import copy_demo
from helpers import SPRAYCC, running_server, wait_for

CONFIG = "idle_shutdown_after = 60\nrelease_delay = 30\nstatus_interval = 1\nlocal_count = 2\n"


class Tmux:
    """A private tmux server (its own socket in the test's tmp dir), killed at the end."""

    def __init__(self, sock: Path, env: dict[str, str]) -> None:
        self.base = [shutil.which("tmux") or "tmux", "-S", str(sock), "-f", "/dev/null"]
        self.env = env

    def __call__(self, *args: str) -> str:
        r = subprocess.run([*self.base, *args], env=self.env, capture_output=True, timeout=30)
        assert r.returncode == 0, (args, r.stderr.decode())
        return r.stdout.decode()

    def screen(self, target: str) -> str:
        return self("capture-pane", "-p", "-t", target)

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], env=self.env, capture_output=True,
                       timeout=30)


def numbers(screen: str) -> dict[str, int] | None:
    m = re.search(r"submitted (\d+)  queued (\d+)  running (\d+)  done (\d+)", screen)
    if m is None:
        return None
    return dict(zip(("submitted", "queued", "running", "done"), map(int, m.groups()),
                    strict=True))


@pytest.mark.timeout(300)
def test_status_live_in_tmux_during_a_build(tmp_path: Path, env: dict[str, str]) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: run bin/setup-env --test")
    ws = copy_demo(tmp_path / "demo")
    tmux = Tmux(tmp_path / "tmux.sock", dict(env, TERM="xterm-256color"))
    build = None
    try:
        with running_server(ws, env, config=CONFIG):
            tmux("new-session", "-d", "-s", "spray", "-x", "110", "-y", "30", "-c", str(ws),
                 f"{SPRAYCC} status; echo status-exit=$?", ";",
                 "set-option", "-t", "spray", "remain-on-exit", "on")
            wait_for(lambda: numbers(tmux.screen("spray")), 30, "the status screen")
            build = subprocess.Popen(["make", "-j8", "LAUNCHER=spraycc run"], cwd=ws, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            first = wait_for(lambda: (lambda n: n if n and n["running"] else None)(
                numbers(tmux.screen("spray"))), 60, "running tasks on the screen")
            assert isinstance(first, dict)

            def moved() -> str | None:
                screen = tmux.screen("spray")
                now = numbers(screen)
                return screen if now and now["done"] > first["done"] else None

            screen = str(wait_for(moved, 60, "the done count to change on the screen"))
            (tmp_path / "screen.txt").write_text(screen)
            print(screen)  # shown with pytest -s: a captured screen for the record
            assert "executors  2 connected" in screen and "local    running    2" in screen
            assert re.search(r"\d+\.\d s  +\S+ +build/\S+\.o", screen), screen  # longest running
            _out, err = build.communicate(timeout=240)
            assert build.returncode == 0, err.decode()

            def final() -> dict | None:
                n = numbers(tmux.screen("spray"))
                return n if n and n["done"] == 52 and not n["running"] else None

            wait_for(final, 30, "the final counts on the screen")
        # The server exited: the live view says so and ends by itself, status 0.
        # The pane's shell reports spraycc's exit status. (tmux's own pane_dead flag is no
        # use here: in this sandbox tmux may leave the exited process unreaped for a while.)
        ended = wait_for(lambda: re.search(r"status-exit=(\d+)", tmux.screen("spray")), 60,
                         "spraycc status to exit")
        assert ended.group(1) == "0", tmux.screen("spray")  # type: ignore[union-attr]
        last = tmux.screen("spray")
        assert "spraycc: the server has exited" in last and "Traceback" not in last
    finally:
        if build is not None and build.poll() is None:
            build.kill()
            build.communicate()
        tmux.kill()


@pytest.mark.timeout(60)
def test_status_ctrl_c_leaves_cleanly(tmp_path: Path, env: dict[str, str],
                                      workspace: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: run bin/setup-env --test")
    tmux = Tmux(tmp_path / "tmux.sock", dict(env, TERM="xterm-256color", PS1="$ "))
    try:
        with running_server(workspace, env, config=CONFIG):
            tmux("new-session", "-d", "-s", "spray", "-x", "100", "-y", "30", "-c",
                 str(workspace), "sh")
            tmux("send-keys", "-t", "spray", f"{SPRAYCC} status --interval 0.2", "Enter")
            wait_for(lambda: numbers(tmux.screen("spray")), 30, "the status screen")
            cursor = "#{cursor_flag}"
            assert tmux("display-message", "-p", "-t", "spray", cursor).strip() == "0"
            tmux("send-keys", "-t", "spray", "C-c")
            tmux("send-keys", "-t", "spray", "echo rc=$?", "Enter")
            wait_for(lambda: "rc=0" in tmux.screen("spray"), 30, "the shell's prompt")
            assert "Traceback" not in tmux.screen("spray")
            # The cursor is shown again: the terminal is left as it was found.
            assert tmux("display-message", "-p", "-t", "spray", cursor).strip() == "1"
    finally:
        tmux.kill()
