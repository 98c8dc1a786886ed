"""``--signal SIG`` to a process: by ``--pid``, ``--pid-file`` (read at every reload, since the
program may have restarted) or ``--process-name`` (looked up in ``/proc``; in Kubernetes the
pod needs ``shareProcessNamespace: true`` for the sidecar to see the app's processes).

By name, only the top of each matching process tree is signalled: nginx's master gets the HUP,
not its workers (whose parent is the master, also named ``nginx``).
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from signal import Signals
from typing import ClassVar

from kubereload.actions.base import ActionError, Observer, ReloadContext
from kubereload.actions.spec import flag

log = logging.getLogger(__name__)

PROC = Path("/proc")


def parse_signal(value: str) -> signal.Signals:
    """``HUP``, ``SIGHUP``, ``hup`` or ``1`` -> ``signal.SIGHUP``."""
    text = value.strip().upper()
    try:
        if text.isdigit():
            return signal.Signals(int(text))
        return signal.Signals[text if text.startswith("SIG") else "SIG" + text]
    except (KeyError, ValueError):
        raise ValueError(f"unknown signal {value!r} (e.g. HUP, SIGUSR1, 15)") from None


def _stat(pid: int, proc: Path) -> tuple[str, int] | None:
    """(comm, ppid) of a process, or None when it is gone."""
    try:
        raw = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    close = raw.rfind(")")
    comm = raw[raw.find("(") + 1 : close]
    fields = raw[close + 2 :].split()
    return comm, int(fields[1])


def _argv0(pid: int, proc: Path) -> str:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    first = raw.split(b"\0", 1)[0].decode(errors="replace")
    return os.path.basename(first.split(" ", 1)[0].rstrip(":"))


def find_processes(name: str, proc: Path = PROC) -> list[int]:
    """Pids whose name (``comm`` or argv[0]'s base name) is ``name`` and whose parent's is not."""
    me = os.getpid()
    matches: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        info = _stat(pid, proc)
        if info is None:
            continue
        comm, ppid = info
        if comm == name[:15] or _argv0(pid, proc) == name:
            matches[pid] = ppid
    return sorted(pid for pid, ppid in matches.items() if ppid not in matches)


@dataclass(frozen=True)
class SignalOptions:
    """``--signal SIG`` and the one process it goes to."""

    kind: ClassVar[str] = "signal"

    signal: Signals = field(
        metadata=flag(
            "--signal",
            "send SIG (HUP, USR1, ...) to the process given by one of:",
            metavar="SIG",
            parse=parse_signal,
        )
    )
    pid: int | None = field(
        default=None, metadata=flag("--pid", "  ... this pid", parse=int, needs_primary=True)
    )
    pid_file: Path | None = field(
        default=None,
        metadata=flag(
            "--pid-file",
            "  ... the pid in FILE (read at each reload)",
            metavar="FILE",
            parse=Path,
            needs_primary=True,
        ),
    )
    process_name: str | None = field(
        default=None,
        metadata=flag(
            "--process-name",
            "  ... the process called NAME (shareProcessNamespace: true)",
            metavar="NAME",
            needs_primary=True,
        ),
    )

    def build(self, observer: Observer) -> Signal:
        return Signal(
            self.signal, pid=self.pid, pid_file=self.pid_file, process_name=self.process_name
        )


class Signal:
    """Send one signal to the target process(es)."""

    kind = "signal"

    def __init__(
        self,
        sig: signal.Signals,
        *,
        pid: int | None = None,
        pid_file: Path | None = None,
        process_name: str | None = None,
    ) -> None:
        if sum(x is not None for x in (pid, pid_file, process_name)) != 1:
            raise ValueError("--signal needs exactly one of --pid, --pid-file, --process-name")
        self.signal = sig
        self.pid = pid
        self.pid_file = pid_file
        self.process_name = process_name

    def describe(self) -> str:
        if self.pid is not None:
            target = f"pid {self.pid}"
        elif self.pid_file is not None:
            target = f"pid file {self.pid_file}"
        else:
            target = f"process {self.process_name!r}"
        return f"signal: {self.signal.name} to {target}"

    def _targets(self) -> list[int]:
        if self.pid is not None:
            return [self.pid]
        if self.pid_file is not None:
            try:
                text = self.pid_file.read_text().strip()
            except OSError as exc:
                raise ActionError(
                    f"cannot read pid file {self.pid_file}: {exc.strerror or exc}", reason="target"
                ) from None
            if not text.isdigit():
                raise ActionError(
                    f"pid file {self.pid_file} holds {text[:20]!r}, not a pid", reason="target"
                )
            return [int(text)]
        assert self.process_name is not None
        pids = find_processes(self.process_name)
        if not pids:
            raise ActionError(
                f"no process named {self.process_name!r} is visible (in Kubernetes, set "
                "shareProcessNamespace: true on the pod)",
                reason="target",
            )
        return pids

    def run(self, context: ReloadContext) -> None:
        try:
            self._send()
        except ActionError as exc:
            raise ActionError(f"{self.describe()}: {exc}", reason=exc.reason) from None

    def _send(self) -> None:
        for pid in self._targets():
            try:
                os.kill(pid, self.signal)
            except ProcessLookupError:
                raise ActionError(f"process {pid} does not exist", reason="target") from None
            except PermissionError:
                raise ActionError(
                    f"not allowed to signal process {pid} (run as the same user, or grant "
                    "CAP_KILL)",
                    reason="permission",
                ) from None
            log.info("sent %s to process %d", self.signal.name, pid)
