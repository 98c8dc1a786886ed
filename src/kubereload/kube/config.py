"""Where the API server is and who we are: kubeconfig (contexts, exec plugins) or in-cluster.

lightkube reads the kubeconfig and builds an authenticated httpx client; we only add what it
lacks: a service account token that is re-read as soon as the kubelet rotates it (lightkube
re-reads only after a 401), and the usual resolution order of ``--kubeconfig``, ``$KUBECONFIG``,
in-cluster, ``~/.kube/config``.
"""

from __future__ import annotations

import logging
import os
import socket
import urllib.parse
import urllib.request
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
from lightkube.config.client_adapter import user_auth as lightkube_user_auth
from lightkube.config.client_adapter import verify_cluster
from lightkube.config.kubeconfig import SERVICE_ACCOUNT, KubeConfig, SingleConfig
from lightkube.core.exceptions import ConfigError

from kubereload.kube.client import KubeClient

DEFAULT_KUBECONFIG = "~/.kube/config"


class KubeConfigError(Exception):
    """No usable cluster configuration: says which source was tried and why it failed."""


@dataclass(frozen=True)
class Cluster:
    """The chosen context: the lightkube configuration plus its default namespace."""

    single: SingleConfig
    source: str

    @property
    def namespace(self) -> str:
        return self.single.namespace

    @property
    def server(self) -> str:
        return str(self.single.cluster.server)


def in_cluster_available(service_account: str = SERVICE_ACCOUNT) -> bool:
    return "KUBERNETES_SERVICE_HOST" in os.environ and Path(service_account, "token").is_file()


def load_config(
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    *,
    service_account: str = SERVICE_ACCOUNT,
) -> Cluster:
    """Pick the cluster: ``kubeconfig`` if given, else ``$KUBECONFIG``, else the pod's service
    account, else ``~/.kube/config``; ``context`` selects a kubeconfig context."""
    use_cluster = kubeconfig is None and "KUBECONFIG" not in os.environ
    if use_cluster and in_cluster_available(service_account):
        if context is not None:
            raise KubeConfigError("--context needs a kubeconfig; running in-cluster there is none")
        try:
            single = KubeConfig.from_service_account(service_account).get()
        except (ConfigError, KeyError) as err:
            raise KubeConfigError(f"in-cluster configuration in {service_account}: {err}") from err
        assert single is not None
        return Cluster(single, f"in-cluster service account {service_account}")
    path = _kubeconfig_path(kubeconfig)
    try:
        single = KubeConfig.from_file(path).get(context)
    except ConfigError as err:
        raise KubeConfigError(f"kubeconfig {path}: {err}") from err
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise KubeConfigError(f"kubeconfig {path}: cannot read it ({type(err).__name__})") from err
    assert single is not None
    return Cluster(single, f"kubeconfig {path} context {single.context_name}")


def _kubeconfig_path(explicit: str | os.PathLike[str] | None) -> Path:
    if explicit is not None:
        return Path(explicit).expanduser()
    # $KUBECONFIG may list several files; like kubectl's first match, use the first that exists.
    listed = [Path(c).expanduser() for c in os.environ.get("KUBECONFIG", "").split(os.pathsep) if c]
    for candidate in listed:
        if candidate.is_file():
            return candidate
    return listed[0] if listed else Path(DEFAULT_KUBECONFIG).expanduser()


class RotatingTokenFileAuth(httpx.Auth):
    """Bearer token read from a file, re-read whenever the file changes and after a 401.

    Bound service account tokens are rotated by the kubelet (hourly by default); client-go
    re-reads the file every minute. Checking the file's identity on each request costs one
    ``stat`` and picks a new token up at once.
    """

    def __init__(self, token_file: str) -> None:
        self._token_file = token_file
        self._stamp: tuple[int, int, int] | None = None
        self._bearer = ""

    def _current(self, force: bool = False) -> str:
        try:
            st = os.stat(self._token_file)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            if force or stamp != self._stamp:
                token = Path(self._token_file).read_text().strip()
                self._bearer, self._stamp = f"Bearer {token}", stamp
        except OSError as err:
            if not self._bearer:
                raise KubeConfigError(f"token file {self._token_file}: {err.strerror}") from err
        return self._bearer

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._current()
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = self._current(force=True)
            yield request


KEEPALIVE_IDLE = 30
KEEPALIVE_INTERVAL = 10
KEEPALIVE_PROBES = 3


def keepalive_options() -> list[tuple[int, int, int]]:
    """TCP keepalive: a connection whose peer vanished (a node gone, a NAT entry dropped) fails
    after about idle + interval * probes = 60 s of unanswered probes, while a healthy watch may
    stay silent for its whole life. Linux names the timings; elsewhere the system's apply."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
    ):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return options


def proxy_for(server: str) -> str | None:
    """The proxy for the API server from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY, unless NO_PROXY
    exempts its host: what client-go (and an httpx client of its own) would use. A transport
    made by hand, as ours is for keepalive, would otherwise ignore the environment."""
    parts = urllib.parse.urlsplit(server)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies_environment()
    return proxies.get(parts.scheme) or proxies.get("all")


class _RequestLogAtDebug(logging.Filter):
    """httpx2 logs every request at INFO ("HTTP Request: GET ... 200"): with a Lease renewed
    every 2 s that fills the log. Its request lines become DEBUG records; warnings stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            # the logger let it through as INFO: pass it on only where DEBUG is wanted
            return logging.getLogger("kubereload").isEnabledFor(logging.DEBUG)
        return True


_REQUEST_LOG_FILTER = _RequestLogAtDebug()


def _requests_log_at_debug() -> None:
    for name in ("httpx2", "httpx"):
        http_logger = logging.getLogger(name)
        if _REQUEST_LOG_FILTER not in http_logger.filters:
            http_logger.addFilter(_REQUEST_LOG_FILTER)


def async_client(cluster: Cluster, *, timeout: float = 30.0) -> KubeClient:
    """A client for the cluster (close it, or use it as ``async with``): base URL, TLS and
    credentials set; JSON by default; TCP keepalive on every connection; request lines logged
    at DEBUG."""
    _requests_log_at_debug()
    single = cluster.single
    user = single.user
    if user is None:
        auth: httpx.Auth | None = None
        verify = httpx.create_ssl_context(verify=not single.cluster.insecure)
    else:
        auth = (
            RotatingTokenFileAuth(str(single.abs_file(user.token_file)))
            if user.token_file
            else lightkube_user_auth(user)
        )
        verify = verify_cluster(single.cluster, user, single.abs_file)
    # Each informer holds one watch open for minutes: no cap on connections, or the
    # hundred-and-first informer of a controller would wait for a free one, and time out.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
    transport = httpx.AsyncHTTPTransport(
        verify=verify,
        limits=limits,
        socket_options=keepalive_options(),
        proxy=proxy_for(single.cluster.server),
    )
    http = httpx.AsyncClient(
        base_url=single.cluster.server,
        auth=auth,
        timeout=httpx.Timeout(timeout),
        transport=transport,
        headers={"Accept": "application/json", "User-Agent": "kubereload"},
    )
    return KubeClient(http)
