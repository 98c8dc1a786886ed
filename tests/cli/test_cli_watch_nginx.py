"""Real nginx reloaded by ``kubereload watch``: validate with ``nginx -t``, then HUP the master."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubereload.volume import AtomicWriter
from support.process import Proc, free_port, http_get, kubereload, wait_until

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

pytestmark = pytest.mark.skipif(
    NGINX is None,
    reason="nginx is not installed (scripts/install-system-deps.sh installs Debian's 'nginx' "
    "package when run as root)",
)


def nginx_conf(prefix: Path, port: int, body: str, *, broken: bool = False) -> str:
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "{body}\\n"; }}
        {"this_is_not_a_directive on;" if broken else ""}
    }}
}}
"""


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[AtomicWriter, Path, int, Proc]]:
    prefix = tmp_path / "prefix"
    (prefix / "tmp").mkdir(parents=True)
    (prefix / "logs").mkdir()
    volume = tmp_path / "nginx-config"
    writer = AtomicWriter(volume)
    port = free_port()
    writer.write({"nginx.conf": nginx_conf(prefix, port, "v1")})
    assert NGINX is not None
    proc = Proc(
        [
            NGINX,
            "-p",
            str(prefix),
            "-e",
            "stderr",
            "-c",
            str(volume / "nginx.conf"),
            "-g",
            "daemon off;",
        ]
    )
    try:
        wait_until(lambda: _serves(port) == "v1", what="nginx serving v1")
        yield writer, prefix, port, proc
    finally:
        proc.stop()


def _workers(master: int) -> int:
    return sum(
        len((task / "children").read_text().split())
        for task in Path(f"/proc/{master}/task").iterdir()
    )


def _reloaded(server: Proc, port: int, body: str) -> bool:
    """Serving ``body``, with the old workers gone (they drain for a moment after a HUP): one
    worker left after a new one answered means the old one is gone."""
    return _serves(port) == body and _workers(server.pid) == 1


def _serves(port: int) -> str | None:
    try:
        return http_get(f"http://127.0.0.1:{port}/")[1].strip()
    except OSError:
        return None


def test_config_change_validates_then_reloads_nginx(
    nginx: tuple[AtomicWriter, Path, int, Proc],
) -> None:
    writer, prefix, port, server = nginx
    conf = writer.target_dir / "nginx.conf"
    watcher = kubereload(
        "watch", "--dir", str(writer.target_dir),
        "--validate", f"{NGINX} -t -q -p {prefix} -e stderr -c {conf}",
        "--signal", "HUP", "--pid-file", str(prefix / "nginx.pid"),
        "--listen", "127.0.0.1:0",
    )  # fmt: skip
    try:
        status = f"http://127.0.0.1:{watcher.listening_port()}"
        metrics = f"{status}/metrics"
        watcher.wait_watching(writer.target_dir)
        wait_until(lambda: http_get(f"{status}/readyz")[0] == 200, what="the first read")
        writer.write({"nginx.conf": nginx_conf(prefix, port, "v2")})
        wait_until(lambda: _reloaded(server, port, "v2"), what="nginx serving v2")

        # A broken config: nginx -t fails, nginx is not signalled and keeps serving v2.
        writer.write({"nginx.conf": nginx_conf(prefix, port, "v3", broken=True)})
        wait_until(
            lambda: 'kubereload_reloads_total{result="invalid"} 1' in http_get(metrics)[1],
            what="the broken config refused",
        )
        assert _serves(port) == "v2"
        assert server.popen.poll() is None

        writer.write({"nginx.conf": nginx_conf(prefix, port, "v4")})
        wait_until(lambda: _reloaded(server, port, "v4"), what="nginx serving v4")
        wait_until(  # counted (and logged) once the signal was sent
            lambda: 'kubereload_reloads_total{result="success"} 2' in http_get(metrics)[1],
            what="the second reload counted",
        )
    finally:
        watcher.stop()
    assert watcher.popen.returncode == 0
    said = watcher.output()
    assert "not reloading after change" in said
    assert "this_is_not_a_directive" in said  # nginx -t's own words, logged
    assert said.count("sent SIGHUP") == 2  # only the good changes signalled
    assert said.count("reloaded after change") == 2


def test_nginx_found_by_process_name(nginx: tuple[AtomicWriter, Path, int, Proc]) -> None:
    writer, prefix, port, server = nginx
    found = subprocess.run(["pgrep", "-x", "nginx"], check=False, capture_output=True, text=True)
    if len(found.stdout.split()) != 2:  # our master and its one worker
        pytest.skip("another nginx runs on this machine: --process-name would reach it too")
    watcher = kubereload(
        "watch", "--dir", str(writer.target_dir), "--signal", "HUP", "--process-name", "nginx",
        "--listen", "127.0.0.1:0",
    )  # fmt: skip
    try:
        status = f"http://127.0.0.1:{watcher.listening_port()}"
        metrics = f"{status}/metrics"
        watcher.wait_watching(writer.target_dir)
        wait_until(lambda: http_get(f"{status}/readyz")[0] == 200, what="the first read")
        writer.write({"nginx.conf": nginx_conf(prefix, port, "by-name")})
        wait_until(lambda: _reloaded(server, port, "by-name"), what="nginx serving by-name")
        wait_until(  # counted (and logged) once the signal was sent
            lambda: 'kubereload_reloads_total{result="success"} 1' in http_get(metrics)[1],
            what="the reload counted",
        )
    finally:
        watcher.stop()
    assert f"sent SIGHUP to process {server.pid}" in watcher.output()
