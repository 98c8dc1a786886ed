"""``kubereload demo`` end to end: a real process, real HTTP on 127.0.0.1, AtomicWriter updates."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import yaml

from kubereload.testing import SimulatedVolume
from support.demo import Demo, demo_env, run
from support.process import wait_until


def make_volume(tmp_path: Path, config: str = "message: Hello\n") -> SimulatedVolume:
    return SimulatedVolume(tmp_path / "volume", {"config.yaml": config})


def test_help_explains_set_and_show(tmp_path: Path) -> None:
    result = run(["demo", "--help"], demo_env(tmp_path))
    assert result.returncode == 0
    assert "kubereload demo set message=" in result.stdout
    assert "show" in result.stdout
    assert "--config-dir" in result.stdout


def test_serves_message_and_reloads_on_set(tmp_path: Path, start_demo: type[Demo]) -> None:
    env = demo_env(tmp_path)
    volume = make_volume(tmp_path)
    demo = start_demo(["--config-dir", str(volume.path)], env)

    first = demo.get("/")
    assert (first.status, first.body, first.version) == (200, "Hello\n", volume.version)
    assert demo.get("/healthz").status == 200
    assert demo.get("/nope").status == 404

    mark = demo.mark()
    result = run(["demo", "set", "--config-dir", str(volume.path), "message=Hello Grandma"], env)
    assert result.returncode == 0, result.stderr
    assert volume.version is not None
    wait_until(lambda: demo.get("/").version == volume.version, what="the new version served")

    second = demo.get("/")
    assert (second.body, second.version) == ("Hello Grandma\n", volume.version)
    # what changed, and to which version, is said in its words
    line = demo.wait_logged("config updated", after=mark).string
    assert demo.stop(signal.SIGTERM) == 0
    assert volume.version in line
    assert "changed: message" in line
    assert "kubereload demo: stopped" in demo.output(after=mark)


def test_broken_config_keeps_old_message_then_recovers(
    tmp_path: Path, start_demo: type[Demo]
) -> None:
    env = demo_env(tmp_path)
    volume = make_volume(tmp_path)
    demo = start_demo(["--config-dir", str(volume.path)], env)
    good_version = volume.version

    mark = demo.mark()
    volume.update({"config.yaml": "message: [unclosed\n"})
    # nothing changes where it serves: the rejection is only in its words
    line = demo.wait_logged("rejected update", after=mark).string
    assert "config.yaml:" in line
    answer = demo.get("/")
    assert (answer.body, answer.version) == ("Hello\n", good_version)

    mark = demo.mark()
    result = run(["demo", "set", "--config-dir", str(volume.path), "message=Back again"], env)
    assert result.returncode == 0, result.stderr
    assert "not valid YAML" in result.stdout  # told that the broken file was replaced
    wait_until(lambda: demo.get("/").body == "Back again\n", what="the fixed config served")
    demo.wait_logged("config updated", after=mark)


def test_a_message_that_is_not_text_is_rejected(tmp_path: Path, start_demo: type[Demo]) -> None:
    env = demo_env(tmp_path)
    volume = make_volume(tmp_path)
    demo = start_demo(["--config-dir", str(volume.path)], env)

    mark = demo.mark()
    assert (
        run(["demo", "set", "--config-dir", str(volume.path), "message=[1, 2]"], env).returncode
        == 0
    )
    line = demo.wait_logged("rejected update", after=mark).string
    # says why and where: `set` wrote "message:\n- 1\n- 2\n", the list starts at line 2
    assert "config.yaml:2:1: message: must be text, not a list" in line
    assert demo.get("/").body == "Hello\n"


def test_default_volume_is_created_reused_and_changed_by_set(
    tmp_path: Path, start_demo: type[Demo]
) -> None:
    env = demo_env(tmp_path)
    volume_dir = tmp_path / f"kubereload-demo-{os.getuid()}"
    demo = start_demo([], env)
    assert (volume_dir / "..data").is_symlink()

    mark = demo.mark()
    assert run(["demo", "set", "message=Hello Grandma"], env).returncode == 0
    wait_until(lambda: demo.get("/").body == "Hello Grandma\n", what="the new message served")
    demo.wait_logged("config updated", after=mark)
    assert demo.stop(signal.SIGINT) == 0  # Ctrl-C
    banner = demo.output()
    assert f"{volume_dir}/config.yaml (a simulated ConfigMap volume, new)" in banner
    assert "kubereload demo set message='Hello Grandma'" in banner
    assert f"curl {demo.url}" in banner
    assert "kubereload demo: stopped" in demo.output(after=mark)

    again = start_demo([], env)
    assert again.get("/").body == "Hello Grandma\n"
    assert again.stop(signal.SIGINT) == 0
    assert "(a simulated ConfigMap volume, reused)" in again.output()


def test_set_reads_values_as_yaml_and_keeps_other_keys(tmp_path: Path) -> None:
    volume = make_volume(tmp_path, "message: Hi\nextra: kept\n")
    args = ["demo", "set", "--config-dir", str(volume.path), "port=8080", "debug=true", "name=a b"]
    result = run(args, demo_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(volume.files()["config.yaml"]) == {
        "message": "Hi",
        "extra": "kept",
        "port": 8080,
        "debug": True,
        "name": "a b",
    }


def test_set_refuses_what_it_must_not_write(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    missing = run(["demo", "set", "message=x"], env)
    assert missing.returncode == 1
    assert "start `kubereload demo` first" in missing.stderr

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.yaml").write_text("message: mine\n")
    refused = run(["demo", "set", "--config-dir", str(plain), "message=x"], env)
    assert refused.returncode == 1
    assert "not a kubelet-style volume" in refused.stderr
    assert (plain / "config.yaml").read_text() == "message: mine\n"

    bad = run(["demo", "set", "--config-dir", str(make_volume(tmp_path).path), "novalue"], env)
    assert bad.returncode == 1
    assert "expected KEY=VALUE" in bad.stderr


def test_show_prints_version_and_config(tmp_path: Path) -> None:
    volume = make_volume(tmp_path)
    result = run(["demo", "show", "--config-dir", str(volume.path)], demo_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"(version {volume.version})" in result.stdout
    assert "message: Hello" in result.stdout


def test_starts_on_a_rejected_config_and_reset_recovers(
    tmp_path: Path, start_demo: type[Demo]
) -> None:
    """After the README's tour the volume holds the rejected `message: [1, 2]`: the next
    `make demo` must still start, serve the default, say why and where, and say how to reset."""
    env = demo_env(tmp_path)
    volume = make_volume(tmp_path, "greeting: hi\nmessage: [1, 2]\n")
    demo = start_demo(["--config-dir", str(volume.path)], env)
    # why, where and how to reset are only in its words
    rejected = demo.wait_logged("rejected:").string
    assert "config.yaml:2:10: message: must be text, not a list" in rejected
    assert "kubereload demo reset" in demo.wait_logged("fix it with").string
    assert demo.get("/").body == "Hello from a simulated ConfigMap\n"

    shown = run(["demo", "show", "--config-dir", str(volume.path)], env)
    assert shown.returncode == 0
    assert "# REJECTED by the demo: " in shown.stdout
    assert "config.yaml:2:10: message: must be text, not a list" in shown.stdout

    reset = run(["demo", "reset", "--config-dir", str(volume.path)], env)
    assert reset.returncode == 0, reset.stderr
    assert volume.version is not None
    assert volume.version in reset.stdout
    wait_until(lambda: demo.get("/").version == volume.version, what="the reset version served")
    assert demo.get("/").body == "Hello from a simulated ConfigMap\n"
    assert demo.get("/").version == volume.version  # the reset version is the one served
    shown = run(["demo", "show", "--config-dir", str(volume.path)], env)
    assert "REJECTED" not in shown.stdout


def test_port_in_use_fails_clearly(tmp_path: Path) -> None:
    volume = make_volume(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run(["demo", "--config-dir", str(volume.path), "--port", port], demo_env(tmp_path))
    assert result.returncode == 1
    assert "try --port 0" in result.stderr


def test_a_planted_link_at_the_shared_location_is_refused(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    elsewhere = make_volume(tmp_path)
    (tmp_path / f"kubereload-demo-{os.getuid()}").symlink_to(elsewhere.path)
    before = elsewhere.files()

    refused = run(["demo", "set", "message=x"], env)
    assert refused.returncode == 1
    assert "not a directory" in refused.stderr
    served = run(["demo", "--port", "0"], env)
    assert served.returncode == 1
    assert "not a directory" in served.stderr
    assert elsewhere.files() == before
