"""A sidecar assembled in Python, without argparse: what ``kubereload watch`` runs."""

from __future__ import annotations

import signal
import urllib.request
from pathlib import Path

import pytest

from kubereload.actions import ExecOptions, SignalOptions, WebhookOptions
from kubereload.sidecar import ReloadOptions, Sidecar, SidecarOptions
from kubereload.volume import AtomicWriter
from support.webhook import Receiver


def test_options_in_a_running_reloader_out(tmp_path: Path, receiver: Receiver) -> None:
    volume = AtomicWriter(tmp_path / "conf")
    volume.write({"app.yaml": "a: 1"})
    marker = tmp_path / "exec-ran"
    options = SidecarOptions(
        paths=[volume.target_dir],
        reload=ReloadOptions(
            validate=f"test -f {volume.target_dir}/app.yaml",
            actions=[
                WebhookOptions(receiver.url, headers={"X-Reason": "config"}),
                ExecOptions(f"touch {marker}"),
            ],
        ),
        listen="127.0.0.1:0",
    )
    with Sidecar(options) as sidecar:
        assert [a.kind for a in sidecar.actions] == ["webhook", "exec"]
        assert sidecar.server is not None
        ready = urllib.request.urlopen(f"http://127.0.0.1:{sidecar.server.port}/readyz")
        assert ready.status == 200
        volume.write({"app.yaml": "a: 2"})
        receiver.wait_calls(1)
        assert sidecar.pipeline.wait_idle(15)
    assert receiver.calls[0].headers["X-Reason"] == "config"
    assert marker.exists()


def test_options_that_cannot_work_are_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        Sidecar(SidecarOptions(reload=ReloadOptions(actions=[WebhookOptions("ftp://x/")])))
    with pytest.raises(ValueError, match="needs --pid, --pid-file or --process-name"):
        Sidecar(SidecarOptions(reload=ReloadOptions(actions=[SignalOptions(signal.SIGHUP)])))


def test_a_newer_change_cuts_a_failing_webhooks_back_off_short(
    tmp_path: Path, receiver: Receiver
) -> None:
    volume = AtomicWriter(tmp_path / "conf")
    volume.write({"app.yaml": "a: 1"})
    receiver.status = 500
    hook = WebhookOptions(receiver.url, retries=1, backoff=60.0, backoff_max=60.0)
    options = SidecarOptions(paths=[volume.target_dir], reload=ReloadOptions(actions=[hook]))
    with Sidecar(options) as sidecar:
        volume.write({"app.yaml": "a: 2"})
        receiver.wait_calls(1)  # failed: its retry waits 30 to 60 s
        receiver.status = 200
        volume.write({"app.yaml": "a: 3"})
        receiver.wait_calls(2, timeout=25)  # the newer change's call, not the retry
        assert sidecar.pipeline.wait_idle(15)
        reloads = sidecar.telemetry.reloads
        assert (reloads.value(result="failure"), reloads.value(result="success")) == (1, 1)
        assert sidecar.pipeline.last_result is not None and sidecar.pipeline.last_result.ok
    assert len(receiver.calls) == 2
