"""`assetgen emulator` as a command: serves until interrupted; bad options exit 2."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx

from assetgen.cli import main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(url: str, proc: subprocess.Popen[str]) -> httpx.Response:
    for _ in range(200):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            return httpx.get(url)
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("the emulator did not start")


def test_command_serves_until_interrupted() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assetgen", "emulator", "--port", str(port), "--api-key", "k",
         "--deployment", "img=gpt-image-1.5", "--rpm", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_until_serving(f"{base}/_emulator/stats", proc).json()["requests"] == 0
        response = httpx.post(f"{base}/openai/deployments/img/images/generations",
                              params={"api-version": "2025-04-01-preview"}, headers={"api-key": "k"},
                              json={"prompt": "a cat", "quality": "low"})
        assert response.status_code == 200
        assert response.headers["x-ratelimit-remaining-requests"] == "9"
        missing = httpx.post(f"{base}/openai/deployments/gpt-image-1/images/generations",
                             params={"api-version": "2025-04-01-preview"}, headers={"api-key": "k"},
                             json={"prompt": "a cat"})
        assert missing.json()["error"]["code"] == "DeploymentNotFound"
        invalid = httpx.post(f"{base}/openai/deployments/img/images/generations",
                             params={"api-version": "2025-04-01-preview"}, headers={"api-key": "k"},
                             json={"prompt": "a cat", "size": "1x1"})
        assert invalid.status_code == 400
        assert invalid.headers["x-ratelimit-remaining-requests"] == "8"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"assetgen emulator: serving on http://127.0.0.1:{port}" in err


def test_bad_deployment_option_exits_2(capsys: object) -> None:
    assert main(["emulator", "--deployment", "no-equals-sign"]) == 2
    assert main(["emulator", "--deployment", "d=gpt-image-9"]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "--deployment expects NAME=MODEL, got 'no-equals-sign'" in err
    assert ("--deployment d=gpt-image-9: unknown model 'gpt-image-9' (known: chatgpt-image-latest, dall-e-2"
            in err)


def test_busy_port_exits_2(capsys: object) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["emulator", "--port", str(port)]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert err == f"assetgen emulator: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_bad_option_values_exit_2_in_words(tmp_path: object, capsys: object) -> None:
    cases = [
        (["--port", "99999"], "--port must be between 0 and 65535, got 99999"),
        (["--port", "-1"], "--port must be between 0 and 65535, got -1"),
        (["--latency", "inf"], "--latency must be a finite number of seconds, got inf"),
        (["--latency", "nan"], "--latency must be a finite number of seconds, got nan"),
        (["--log", "/nonexistent-dir/em.log"],
         "assetgen emulator: cannot open the log file /nonexistent-dir/em.log: No such file or directory"),
    ]
    for args, message in cases:
        assert main(["emulator", "--port", "0", *args]) == 2, args
        err = capsys.readouterr().err  # type: ignore[attr-defined]
        assert err == message + "\n", args


def test_an_unknown_host_is_named_in_words(capsys: object) -> None:
    assert main(["emulator", "--host", "no-such-host.invalid", "--port", "0"]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert err.startswith("assetgen emulator: cannot listen on no-such-host.invalid:0: "), err
    assert "Unknown error" not in err and "while attempting" not in err and len(err.splitlines()) == 1
