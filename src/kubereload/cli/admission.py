"""``kubereload admission``: a validating admission webhook that refuses a bad config at apply.

Serves ``POST /validate`` (AdmissionReview v1, HTTPS) for ConfigMaps and Secrets on CREATE and
UPDATE; a refusal names key, line, column and rule, never a value. Rules come from the objects'
own annotations and ``--rules`` (followed live); a schema named by ``kubereload.io/schema`` is
read from its ConfigMap. The certificate is re-read when its files change (cert-manager renews
it), or ``--self-signed`` makes one, shares it between replicas through a Secret and writes the
``caBundle`` itself. See docs/admission.md and deploy/admission/.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from kubereload import __version__
from kubereload.admission.rules import RulesError
from kubereload.admission.server import Limits
from kubereload.admission.service import AdmissionService, SelfSignedSettings, Settings
from kubereload.admission.tls import CertificateError
from kubereload.cli.env import RepeatedFlag, apply_env
from kubereload.cli.flags import add_kube_flags, add_log_flags
from kubereload.cli.logs import setup_logging
from kubereload.cli.stop import StopSignal
from kubereload.cli.usage import fail, help_text
from kubereload.cli.values import count, duration
from kubereload.server import StatusServer, parse_listen

log = logging.getLogger(__name__)
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_NAME = "kubereload-admission"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "admission",
        help="validating admission webhook: refuse bad ConfigMaps/Secrets at kubectl apply",
        description=help_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rules", type=Path, metavar="FILE", help="rules file (followed live)")
    serve = parser.add_argument_group("webhook")
    serve.add_argument(
        "--webhook-listen",
        default=":8443",
        metavar="ADDR",
        help="HTTPS address of POST /validate (default :8443)",
    )
    serve.add_argument(
        "--tls-cert-file",
        type=Path,
        default=Path("/etc/kubereload/tls/tls.crt"),
        metavar="FILE",
        help="serving certificate, re-read when it changes (default /etc/kubereload/tls/tls.crt)",
    )
    serve.add_argument(
        "--tls-key-file",
        type=Path,
        default=Path("/etc/kubereload/tls/tls.key"),
        metavar="FILE",
        help="its key (default /etc/kubereload/tls/tls.key)",
    )
    serve.add_argument(
        "--max-connections", type=count(1, 100_000), default=64, metavar="N", help="default 64"
    )
    serve.add_argument(
        "--max-request-bytes",
        type=count(1024, 1 << 30),
        default=Limits.max_body,
        metavar="N",
        help=f"largest AdmissionReview accepted (default {Limits.max_body})",
    )
    serve.add_argument(
        "--read-timeout",
        type=duration,
        default=10.0,
        metavar="DURATION",
        help="per read on a connection (default 10s)",
    )
    serve.add_argument(
        "--schema-cache-ttl",
        type=duration,
        default=5.0,
        metavar="DURATION",
        help="how long a schema ConfigMap read is reused (default 5s)",
    )
    serve.add_argument(
        "--schema-timeout",
        type=duration,
        default=2.0,
        metavar="DURATION",
        help="longest wait for a schema ConfigMap; then the request errors (default 2s)",
    )
    own = parser.add_argument_group(
        "self-signed certificate (instead of --tls-cert-file/--tls-key-file)"
    )
    own.add_argument(
        "--self-signed",
        action="store_true",
        help="make a CA and certificate, keep them in a Secret, write the caBundle",
    )
    own.add_argument("--namespace", metavar="NS", help="the webhook's namespace (default: own)")
    own.add_argument(
        "--service", default=DEFAULT_NAME, help=f"its Service (default {DEFAULT_NAME})"
    )
    own.add_argument(
        "--tls-secret",
        default=f"{DEFAULT_NAME}-tls",
        metavar="NAME",
        help=f"Secret holding the CA and certificate (default {DEFAULT_NAME}-tls)",
    )
    own.add_argument(
        "--webhook-configuration",
        default=DEFAULT_NAME,
        metavar="NAME",
        help=f"ValidatingWebhookConfiguration whose caBundle to write (default {DEFAULT_NAME})",
    )
    own.add_argument(
        "--tls-host",
        action=RepeatedFlag,
        metavar="HOST",
        help="another DNS name or IP for the certificate (repeatable)",
    )
    own.add_argument(
        "--cert-dir",
        type=Path,
        default=Path("/tmp/kubereload-admission"),
        metavar="DIR",
        help="where the self-signed files are written (default /tmp/kubereload-admission)",
    )
    status = parser.add_argument_group("health, metrics and logs")
    status.add_argument(
        "--listen", metavar="ADDR", help="serve /healthz, /readyz and /metrics here (e.g. :9090)"
    )
    add_log_flags(status)
    add_kube_flags(parser)
    apply_env(parser)
    parser.set_defaults(handler=handle)


def _own_namespace(args: argparse.Namespace, cluster: object | None) -> str:
    if args.namespace:
        return str(args.namespace)
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    except OSError:
        return str(getattr(cluster, "namespace", "default"))


def handle(args: argparse.Namespace) -> int:
    setup_logging(args.log_format, args.log_level)
    try:
        address = parse_listen(args.webhook_listen)
        status_address = parse_listen(args.listen) if args.listen else None
    except ValueError as exc:
        return fail("admission", str(exc))
    from kubereload.kube.config import KubeConfigError, load_config  # noqa: PLC0415

    try:
        cluster = load_config(args.kubeconfig, args.context)
    except KubeConfigError as exc:
        if args.self_signed:
            return fail("admission", f"--self-signed needs a cluster: {exc}")
        log.warning("no cluster configured (%s): schemas in ConfigMaps cannot be read", exc)
        cluster = None
    self_signed = None
    if args.self_signed:
        namespace = _own_namespace(args, cluster)
        from kubereload.admission.selfsigned import hosts_for  # noqa: PLC0415

        self_signed = SelfSignedSettings(
            namespace=namespace,
            secret=args.tls_secret,
            webhook_configuration=args.webhook_configuration,
            hosts=hosts_for(args.service, namespace, args.tls_host),
            directory=args.cert_dir,
        )
    settings = Settings(
        address=address,
        cert_file=args.tls_cert_file,
        key_file=args.tls_key_file,
        rules_file=args.rules,
        limits=Limits(
            max_body=args.max_request_bytes,
            max_connections=max(1, args.max_connections),
            read_timeout=args.read_timeout,
        ),
        schema_ttl=args.schema_cache_ttl,
        schema_timeout=args.schema_timeout,
        self_signed=self_signed,
    )
    stop = StopSignal()
    try:
        service = AdmissionService(settings, cluster)
    except (RulesError, CertificateError, ValueError, OSError) as exc:
        return fail("admission", str(exc))
    except Exception as exc:  # the config library's ConfigError, an API error at start
        return fail("admission", f"{type(exc).__name__}: {exc}")
    service.registry.gauge("build_info", "Always 1; the version is a label.", ["version"]).set(
        1, version=__version__
    )
    status = None
    if status_address is not None:
        status = StatusServer(status_address, service.registry, service.health)
        status.start()
        log.info("serving /healthz, /readyz, /metrics on %s:%d", status_address[0], status.port)
    service.start()
    try:
        stop.wait()
    finally:
        service.close()
        if status is not None:
            status.close()
    return 0
