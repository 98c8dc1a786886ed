"""Where the API server is and who we are: a kubeconfig context, or the pod's service account.

Read here, by our own small reader, rather than by lightkube's: its loader pulls in the whole
lightkube client (4.7 MB of an application's memory for the library's API source). The reader
covers what clusters use: ``server``, ``certificate-authority(-data)``,
``insecure-skip-tls-verify``, ``client-certificate(-data)``/``client-key(-data)``, ``token``,
``tokenFile`` and ``exec`` plugins; the in-cluster service account with its token re-read as
soon as the kubelet rotates it. Resolution order: ``--kubeconfig``, ``$KUBECONFIG``, in-cluster,
``~/.kube/config``. Every file read is bounded; errors name the file and the field, never a
value (a kubeconfig holds tokens and keys).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from kubereload.kube.client import KubeClient

SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_KUBECONFIG = "~/.kube/config"
MAX_KUBECONFIG_BYTES = 4 * 1024 * 1024
MAX_CREDENTIAL_BYTES = 1024 * 1024
"""A token, certificate, key or namespace file, and an exec plugin's output."""
EXEC_TIMEOUT = 60.0
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
EXPIRY_MARGIN = 30.0
"""Seconds before an exec token's expirationTimestamp at which the plugin is run again."""


class KubeConfigError(Exception):
    """No usable cluster configuration: says which source was tried and why it failed."""


@dataclass(frozen=True)
class ExecPlugin:
    """A kubeconfig user's ``exec`` section: a command that prints an ExecCredential."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    api_version: str = EXEC_API_VERSIONS[1]


@dataclass(frozen=True)
class Cluster:
    """The chosen context: the server, how to trust it, who we are, the default namespace.

    Secret material (tokens, key data) is left out of the repr.
    """

    server: str
    namespace: str
    source: str
    ca_file: Path | None = None
    ca_data: bytes | None = field(default=None, repr=False)
    insecure: bool = False
    client_cert_file: Path | None = None
    client_cert_data: bytes | None = field(default=None, repr=False)
    client_key_file: Path | None = None
    client_key_data: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    exec_plugin: ExecPlugin | None = None


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
        return _in_cluster(Path(service_account))
    return _from_kubeconfig(_kubeconfig_path(kubeconfig), context)


def _in_cluster(account: Path) -> Cluster:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    namespace_file = account / "namespace"
    namespace = "default"
    if namespace_file.is_file():
        namespace = read_bounded(namespace_file, "in-cluster namespace").decode().strip()
    ca_file = account / "ca.crt"
    return Cluster(
        server=f"https://{host}:{port}",
        namespace=namespace or "default",
        source=f"in-cluster service account {account}",
        ca_file=ca_file if ca_file.is_file() else None,
        token_file=account / "token",
    )


def _kubeconfig_path(explicit: str | os.PathLike[str] | None) -> Path:
    if explicit is not None:
        return Path(explicit).expanduser()
    # $KUBECONFIG may list several files; like kubectl's first match, use the first that exists.
    listed = [Path(c).expanduser() for c in os.environ.get("KUBECONFIG", "").split(os.pathsep) if c]
    for candidate in listed:
        if candidate.is_file():
            return candidate
    return listed[0] if listed else Path(DEFAULT_KUBECONFIG).expanduser()


def read_bounded(path: Path, what: str, limit: int = MAX_CREDENTIAL_BYTES) -> bytes:
    """The bytes of ``path``, refused past ``limit``; errors name ``what`` and the path."""
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except FileNotFoundError:
        raise KubeConfigError(f"{what} {path}: not found") from None
    except OSError as err:
        raise KubeConfigError(f"{what} {path}: cannot read it ({err.strerror})") from None
    if len(data) > limit:
        raise KubeConfigError(f"{what} {path}: larger than {limit} bytes")
    return data


class _Reader:
    """One kubeconfig document; each error says where, by file, section and field."""

    def __init__(self, path: Path) -> None:
        from kubereload.config.errors import ConfigError  # noqa: PLC0415 - PyYAML, when needed
        from kubereload.config.formats import parse_yaml  # noqa: PLC0415

        self.path = path
        data = read_bounded(path, "kubeconfig", MAX_KUBECONFIG_BYTES)
        try:
            document = parse_yaml(data)
        except ConfigError as err:
            where = f" at line {err.line}, column {err.column}" if err.line else ""
            raise KubeConfigError(f"kubeconfig {path}: not valid YAML{where}") from None
        if not isinstance(document, dict):
            raise KubeConfigError(f"kubeconfig {path}: not a mapping of clusters, users, contexts")
        self.document: dict[str, Any] = document

    def fail(self, where: str, problem: str) -> KubeConfigError:
        return KubeConfigError(f"kubeconfig {self.path}: {where}: {problem}")

    def entry(self, section: str, name: str) -> dict[str, Any]:
        """``section`` (clusters, users, contexts) item ``name``'s inner mapping."""
        inner = section[:-1]  # "clusters" -> "cluster"
        items = self.document.get(section) or []
        if not isinstance(items, list):
            raise self.fail(section, "not a list")
        for item in items:
            if isinstance(item, dict) and item.get("name") == name:
                body = item.get(inner) or {}
                if not isinstance(body, dict):
                    raise self.fail(f"{inner} {name!r}", f"'{inner}' is not a mapping")
                return body
        raise self.fail(f"{inner} {name!r}", "not found")

    def text(self, body: Mapping[str, Any], where: str, key: str) -> str | None:
        value = body.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(where, f"field {key!r} is not a string")
        return value

    def file(self, body: Mapping[str, Any], where: str, key: str) -> Path | None:
        """A path field, relative to the kubeconfig's own directory as kubectl reads it."""
        value = self.text(body, where, key)
        return None if value is None else (self.path.parent / Path(value).expanduser())

    def data(self, body: Mapping[str, Any], where: str, key: str) -> bytes | None:
        value = self.text(body, where, key)
        if value is None:
            return None
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise self.fail(where, f"field {key!r} is not valid base64") from None


def _from_kubeconfig(path: Path, context: str | None) -> Cluster:
    reader = _Reader(path)
    name = context or reader.document.get("current-context")
    if not name:
        raise KubeConfigError(f"kubeconfig {path}: no current-context; choose one with --context")
    if not isinstance(name, str):
        raise reader.fail("current-context", "not a string")
    ctx = reader.entry("contexts", name)
    where = f"context {name!r}"
    cluster_name = reader.text(ctx, where, "cluster")
    if cluster_name is None:
        raise reader.fail(where, "field 'cluster' missing")
    cluster = reader.entry("clusters", cluster_name)
    at = f"cluster {cluster_name!r}"
    server = reader.text(cluster, at, "server")
    if server is None:
        raise reader.fail(at, "field 'server' missing")
    insecure = cluster.get("insecure-skip-tls-verify", False)
    if not isinstance(insecure, bool):
        raise reader.fail(at, "field 'insecure-skip-tls-verify' is not true or false")
    user_name = reader.text(ctx, where, "user")
    user = reader.entry("users", user_name) if user_name is not None else {}
    who = f"user {user_name!r}"
    if user.get("auth-provider") is not None:
        raise reader.fail(who, "auth-provider plugins are not supported; use an exec plugin")
    if user.get("username") is not None or user.get("password") is not None:
        raise reader.fail(who, "basic authentication (username/password) is not supported")
    return Cluster(
        server=server.rstrip("/"),
        namespace=reader.text(ctx, where, "namespace") or "default",
        source=f"kubeconfig {path} context {name}",
        ca_file=reader.file(cluster, at, "certificate-authority"),
        ca_data=reader.data(cluster, at, "certificate-authority-data"),
        insecure=insecure,
        client_cert_file=reader.file(user, who, "client-certificate"),
        client_cert_data=reader.data(user, who, "client-certificate-data"),
        client_key_file=reader.file(user, who, "client-key"),
        client_key_data=reader.data(user, who, "client-key-data"),
        token=reader.text(user, who, "token"),
        token_file=reader.file(user, who, "tokenFile"),
        exec_plugin=_exec_plugin(reader, user, who),
    )


def _exec_plugin(reader: _Reader, user: Mapping[str, Any], who: str) -> ExecPlugin | None:
    spec = user.get("exec")
    if spec is None:
        return None
    where = f"{who} exec"
    if not isinstance(spec, dict):
        raise reader.fail(where, "not a mapping")
    command = reader.text(spec, where, "command")
    if command is None:
        raise reader.fail(where, "field 'command' missing")
    api_version = reader.text(spec, where, "apiVersion") or EXEC_API_VERSIONS[1]
    if api_version not in EXEC_API_VERSIONS:
        raise reader.fail(where, f"apiVersion {api_version!r} is not supported")
    args = spec.get("args") or []
    env = spec.get("env") or []
    if not (isinstance(args, list) and all(isinstance(a, str) for a in args)):
        raise reader.fail(where, "field 'args' is not a list of strings")
    if not (isinstance(env, list) and all(_is_env_entry(e) for e in env)):
        raise reader.fail(where, "field 'env' is not a list of name/value pairs")
    pairs = tuple((str(e["name"]), str(e["value"])) for e in env)
    return ExecPlugin(command, tuple(args), pairs, api_version)


def _is_env_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("name"), str) and "value" in entry


class Credentials:
    """The ``Authorization`` header for a cluster's user, kept current; safe across threads.

    A token file is re-read whenever it changes (one ``stat`` per request): bound service
    account tokens are rotated by the kubelet, hourly by default, and client-go re-reads them
    every minute. An exec plugin is run again before its token expires. After a 401,
    :meth:`rejected` makes the next :meth:`authorization` read or run afresh.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._bearer: str | None = None
        self._expires = float("inf")

    def authorization(self) -> str | None:
        with self._lock:
            cluster = self.cluster
            if cluster.token_file is not None:
                self._read_token_file(cluster.token_file)
            elif cluster.exec_plugin is not None:
                if self._bearer is None or time.time() > self._expires - EXPIRY_MARGIN:
                    self._run_plugin(cluster.exec_plugin)
            elif cluster.token is not None:
                self._bearer = f"Bearer {cluster.token}"
            return self._bearer

    def rejected(self) -> None:
        with self._lock:
            self._stamp = None
            if self.cluster.exec_plugin is not None:
                self._bearer = None

    def _read_token_file(self, path: Path) -> None:
        try:
            st = os.stat(path)
        except OSError as err:
            if self._bearer is None:
                raise KubeConfigError(f"token file {path}: {err.strerror}") from None
            return  # mid-rotation: the last token is still the best guess
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            token = read_bounded(path, "token file").decode(errors="replace").strip()
            self._bearer, self._stamp = f"Bearer {token}", stamp

    def _run_plugin(self, plugin: ExecPlugin) -> None:
        import subprocess  # noqa: PLC0415 - only exec users pay for it

        spec = {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": {}}
        env = {**os.environ, **dict(plugin.env), "KUBERNETES_EXEC_INFO": json.dumps(spec)}
        what = f"exec plugin {plugin.command}"
        try:
            done = subprocess.run(
                [plugin.command, *plugin.args],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=EXEC_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise KubeConfigError(f"{what}: no answer in {EXEC_TIMEOUT:g} s") from None
        except OSError as err:
            raise KubeConfigError(f"{what}: cannot run it ({err.strerror})") from None
        if done.returncode != 0:
            raise KubeConfigError(f"{what}: exited with status {done.returncode}")
        if len(done.stdout) > MAX_CREDENTIAL_BYTES:
            raise KubeConfigError(f"{what}: printed more than {MAX_CREDENTIAL_BYTES} bytes")
        try:
            status = json.loads(done.stdout)["status"]
            token = status["token"]
            if not isinstance(token, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise KubeConfigError(f"{what}: printed no ExecCredential with a token") from None
        self._bearer = f"Bearer {token}"
        self._expires = _timestamp(status.get("expirationTimestamp"))


def _timestamp(value: Any) -> float:
    """Seconds since the epoch for an RFC 3339 time; never, when absent or unreadable."""
    if not isinstance(value, str):
        return float("inf")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")


def ssl_context(cluster: Cluster) -> ssl.SSLContext:
    """TLS for the cluster: its CA (else the system's), or no verification when the kubeconfig
    says ``insecure-skip-tls-verify`` and names no CA; the client certificate if any."""
    ca = cluster.ca_data
    if ca is None and cluster.ca_file is not None:
        ca = read_bounded(cluster.ca_file, "certificate-authority")
    if ca is not None:
        # Checked here: an empty cadata would make ssl trust the system's CAs instead.
        not_pem = KubeConfigError(f"{cluster.source}: certificate-authority: not a PEM certificate")
        if b"-----BEGIN CERTIFICATE-----" not in ca:
            raise not_pem
        try:
            context = ssl.create_default_context(cadata=ca.decode())
        except (ssl.SSLError, ValueError):
            raise not_pem from None
    elif cluster.insecure:
        context = _unverified()
    else:
        context = ssl.create_default_context()
    _load_client_certificate(context, cluster)
    return context


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _load_client_certificate(context: ssl.SSLContext, cluster: Cluster) -> None:
    cert = cluster.client_cert_data
    key = cluster.client_key_data
    if cert is None and cluster.client_cert_file is not None:
        cert = read_bounded(cluster.client_cert_file, "client-certificate")
    if key is None and cluster.client_key_file is not None:
        key = read_bounded(cluster.client_key_file, "client-key")
    if cert is None and key is None:
        return
    if cert is None or key is None:
        raise KubeConfigError(f"{cluster.source}: a client certificate needs both cert and key")
    import tempfile  # noqa: PLC0415 - only client-certificate users pay for it

    # ssl loads a key pair from files only: a private directory, removed at once.
    with tempfile.TemporaryDirectory(prefix="kubereload-tls-") as private:
        cert_path, key_path = Path(private, "cert.pem"), Path(private, "key.pem")
        for path, data in ((cert_path, cert), (key_path, key)):
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                f.write(data)
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError:
            raise KubeConfigError(
                f"{cluster.source}: the client certificate and key do not load as a PEM pair"
            ) from None


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
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None  # the usual case: urllib.request (1.1 MB of an app's memory) stays unloaded
    import urllib.request  # noqa: PLC0415

    parts = urlsplit(server)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies_environment()
    return proxies.get(parts.scheme) or proxies.get("all")


def async_client(cluster: Cluster, *, timeout: float = 30.0) -> KubeClient:
    """The asyncio client for the cluster (close it, or use it as ``async with``); see
    :meth:`KubeClient.connect`. Loads httpx2 on first call only."""
    from kubereload.kube.client import KubeClient  # noqa: PLC0415 - its users alone load httpx2

    return KubeClient.connect(cluster, timeout=timeout)
