"""``kubereload admission`` assembled: rules (followed live), schemas from the API, the
certificate (given, or ``--self-signed``), the HTTPS webhook, health and metrics.

The CLI only turns flags into :class:`Settings`; everything that runs is built here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubereload.admission.engine import Engine, SchemaSource, SchemaUnavailable
from kubereload.admission.rules import Rules, RulesError, SchemaRef, parse_rules
from kubereload.admission.server import AdmissionMetrics, AdmissionServer, Limits
from kubereload.admission.tls import CertificateFiles
from kubereload.config import ConfigError, fastyaml
from kubereload.server import HealthRegistry, Registry

log = logging.getLogger(__name__)
RENEW_CHECK_SECONDS = 60.0
"""How often --self-signed checks its certificate, Secret and caBundle (two GETs if all is well)."""


@dataclass(frozen=True)
class SelfSignedSettings:
    namespace: str
    secret: str
    webhook_configuration: str
    hosts: Sequence[str]
    directory: Path


@dataclass(frozen=True)
class Settings:
    address: tuple[str, int]
    cert_file: Path
    key_file: Path
    rules_file: Path | None = None
    limits: Limits = field(default_factory=Limits)
    schema_ttl: float = 5.0
    schema_timeout: float = 2.0
    self_signed: SelfSignedSettings | None = None


class NoCluster:
    """When no cluster is configured: a referenced schema cannot be had (an error, not a no)."""

    def fetch(self, ref: SchemaRef) -> bytes | None:
        raise SchemaUnavailable("no cluster is configured to read schema ConfigMaps from")


class AdmissionService:
    """Everything ``kubereload admission`` runs; :meth:`start`, then :meth:`close`."""

    def __init__(self, settings: Settings, cluster: Any | None) -> None:
        self.settings = settings
        self.registry = Registry()
        self.health = HealthRegistry()
        self.metrics = AdmissionMetrics(self.registry)
        self._stop = threading.Event()
        self._closers: list[Any] = []
        self._renewer: threading.Thread | None = None
        self._self_signed: Any = None
        schemas: SchemaSource = NoCluster()
        if cluster is not None:
            from kubereload.admission.api import ApiSchemas  # noqa: PLC0415 - needs a cluster

            api = ApiSchemas(cluster, ttl=settings.schema_ttl, timeout=settings.schema_timeout)
            self._closers.append(api.close)
            schemas = api
        self.engine = Engine(self._first_rules(), schemas)
        cert_file, key_file = settings.cert_file, settings.key_file
        if settings.self_signed is not None:
            if cluster is None:
                raise ValueError("--self-signed needs a cluster to keep its Secret and caBundle in")
            cert_file, key_file = self._start_self_signed(cluster, settings.self_signed)
        expiry = self.registry.gauge(
            "admission_certificate_expiry_timestamp_seconds",
            "Unix time the serving certificate expires (as last loaded).",
        )
        loads = self.registry.gauge(
            "admission_certificate_loads", "Times the serving certificate was (re)loaded."
        )

        def loaded(files: CertificateFiles) -> None:
            expiry.set(files.not_after or 0)
            loads.set(files.loads)

        self.certificates = CertificateFiles(cert_file, key_file, on_load=loaded)
        self.server = AdmissionServer(
            settings.address, self.engine, self.certificates, self.metrics, settings.limits
        )
        self._probes()

    def _first_rules(self) -> Rules:
        path = self.settings.rules_file
        if path is None:
            return Rules()
        import kubereload  # noqa: PLC0415 - the library follows the rules file like any config

        def parser(raw: bytes) -> Rules:
            try:
                return parse_rules(raw, source=str(path), base=path.parent)
            except RulesError as exc:  # the rules are the operator's, not a secret: say why
                raise ConfigError(str(exc), kind="parser") from None

        watched = kubereload.watch(path, parser=parser)
        watched.on_change(self._rules_changed)
        self._closers.append(watched.close)
        self.health.add_probe(
            "ready",
            "rules",
            lambda: None if watched.error is None else f"rules update rejected: {watched.error}",
        )
        rules: Rules = watched.get()
        return rules

    def _rules_changed(self, old: Rules, new: Rules) -> None:
        self.engine.rules = new
        log.info("rules reloaded from %s: %d rule(s)", new.source, len(new.rules))

    def _start_self_signed(self, cluster: Any, options: SelfSignedSettings) -> tuple[Path, Path]:
        from kubereload.admission.selfsigned import SelfSigned  # noqa: PLC0415

        self._self_signed = SelfSigned(
            cluster,
            namespace=options.namespace,
            secret=options.secret,
            webhook_configuration=options.webhook_configuration,
            hosts=options.hosts,
            directory=options.directory,
        )
        return self._self_signed.ensure()  # type: ignore[no-any-return]

    def _renew_loop(self) -> None:
        while not self._stop.wait(RENEW_CHECK_SECONDS):
            try:
                self._self_signed.ensure()  # a renewed certificate: CertificateFiles sees it
            except Exception as exc:  # keep serving the current one; try again next time
                log.warning("self-signed certificate check failed: %s", type(exc).__name__)

    def _probes(self) -> None:
        def certificate() -> str | None:
            ends = self.certificates.not_after
            if ends is not None and ends <= time.time():
                return "the serving certificate has expired: renew it (see docs/admission.md)"
            return None

        self.health.add_probe("ready", "certificate", certificate)
        self.health.add_probe(
            "live",
            "webhook",
            lambda: None if self._serving() else "the webhook server stopped",
        )
        self.health.add_probe("ready", "webhook", lambda: None if self._serving() else "starting")

    def _serving(self) -> bool:
        thread = self.server._thread
        return thread is not None and thread.is_alive()

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        fastyaml.available()  # rapidyaml loaded now, not in the first review
        self.server.start()
        if self._self_signed is not None:
            self._renewer = threading.Thread(
                target=self._renew_loop, name="kubereload-cert-renew", daemon=True
            )
            self._renewer.start()
        log.info(
            "admission webhook serving https on %s:%d%s",
            self.settings.address[0],
            self.port,
            "/validate",
        )

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        for close in reversed(self._closers):
            close()
