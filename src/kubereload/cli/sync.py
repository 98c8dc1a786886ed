"""``kubereload sync``: ConfigMaps and Secrets from the API into a directory, then reload.

Files are written in the kubelet's own layout (``..data`` swapped atomically), within
milliseconds of the change instead of the kubelet's minute; then the same ``--validate`` and
reload actions as ``kubereload watch`` run. ``--once`` writes and exits (an init container).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from kubereload.cli.env import RepeatedFlag, apply_env
from kubereload.cli.flags import add_action_flags, add_kube_flags, add_service_flags
from kubereload.cli.logs import setup_logging
from kubereload.cli.options import log_secrets, reload_options
from kubereload.cli.usage import fail, help_text
from kubereload.cli.values import duration, file_mode
from kubereload.kube.config import Cluster, KubeConfigError, async_client, load_config
from kubereload.kube.errors import KubeError
from kubereload.sidecar import Sidecar, SidecarOptions
from kubereload.sync.project import parse_items
from kubereload.sync.runner import ChangeGate, sync_once
from kubereload.sync.selection import Selection, plan
from kubereload.sync.serve import serve
from kubereload.sync.writer import ON_DELETE, SyncWriter, WriterOptions

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  # one ConfigMap into /etc/nginx/conf.d, kept in step; nginx checked, then its master HUPed
  kubereload sync --configmap web-conf --dir /etc/nginx/conf.d \\
      --validate 'nginx -t' --signal HUP --process-name nginx

  # every ConfigMap labelled app=web, one subdirectory each; then a reload webhook
  kubereload sync --selector app=web --dir /config --webhook http://127.0.0.1:8080/-/reload

  # an init container: write the Secret once and exit (non-zero if it is missing)
  kubereload sync --secret db-credentials --dir /etc/db --once
"""


def add_sync_flags(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group(
        "what", "Name objects, or select them by labels (in the context's namespace by default)."
    )
    what.add_argument("--configmap", action=RepeatedFlag, metavar="[NS/]NAME", help="repeatable")
    what.add_argument("--secret", action=RepeatedFlag, metavar="[NS/]NAME", help="repeatable")
    what.add_argument("--selector", metavar="LABELS", help="label selector, e.g. app=web,tier!=db")
    what.add_argument(
        "--kind",
        choices=("configmap", "secret", "both"),
        default="configmap",
        help="with --selector (default configmap)",
    )
    what.add_argument("--namespace", action=RepeatedFlag, metavar="NS", help="with --selector")
    what.add_argument("--all-namespaces", action="store_true", help="with --selector")
    where = parser.add_argument_group(
        "where",
        "One named object: its keys are the files of DIR. Several, or --selector: one "
        "subdirectory per object, NAMESPACE_NAME (KIND_NAMESPACE_NAME when both kinds are "
        "synced), each with its own atomically swapped ..data.",
    )
    where.add_argument("--dir", type=Path, required=True, metavar="DIR", help="target directory")
    where.add_argument(
        "--items",
        action=RepeatedFlag,
        metavar="KEY=PATH",
        help="write only KEY, at PATH (repeatable)",
    )
    where.add_argument("--mode", type=file_mode, default=0o644, help="file mode (default 0644)")
    where.add_argument(
        "--on-delete",
        choices=ON_DELETE,
        default="keep",
        help="when an object is deleted: keep its files (default) or remove them",
    )
    where.add_argument(
        "--once",
        action="store_true",
        help="write once and exit (init container); non-zero if anything asked for was not"
        " written: a missing object, a refused key",
    )
    where.add_argument(
        "--stall-timeout",
        type=duration,
        default=60.0,
        metavar="DURATION",
        help="replace a watch still silent this long after the server should have ended it"
        " (a dead connection; quiet watches are normal) (default 60s)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sync",
        help="write ConfigMaps/Secrets from the API into a directory, then reload",
        description=help_text(__doc__),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_sync_flags(parser)
    add_kube_flags(parser)
    add_action_flags(parser)
    add_service_flags(parser)
    apply_env(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    setup_logging(args.log_format, args.log_level, log_secrets(args))
    try:
        items = parse_items(args.items)
        selections = _plan(args, "default")  # usage errors first, before reading any kubeconfig
        reload = reload_options(args)
    except ValueError as err:
        return fail("sync", str(err))
    try:
        config = load_config(args.kubeconfig, args.context)
    except KubeConfigError as err:
        log.error("no cluster to read from: %s", err)
        return 1
    selections = _plan(args, config.namespace)
    options = WriterOptions(
        root=args.dir,
        per_object=not (len(selections) == 1 and selections[0].name),
        with_kind=len({s.kind for s in selections}) > 1,
        items=items or None,
        mode=args.mode,
        on_delete=args.on_delete,
    )
    log.info(
        "syncing %s into %s (%s)",
        "; ".join(s.describe() for s in selections),
        args.dir,
        config.source,
    )
    if args.once:
        return asyncio.run(_once(config, selections, options))
    try:  # no watched paths: the writer feeds the pipeline
        sidecar = Sidecar(
            SidecarOptions(
                reload=reload,
                listen=args.listen,
                metrics_path=args.metrics_path,
                unready_on_failure=args.unready_on_failure,
            )
        )
    except ValueError as err:
        return fail("sync", str(err))
    try:
        sidecar.telemetry.health.set("ready", "informers", "not started")  # until made
        sidecar.telemetry.compat.watches.set(len(selections))  # objects or selectors watched
        sidecar.serve_status()
    except (OSError, ValueError) as err:
        return fail("sync", f"--listen {args.listen}: {err}")
    sidecar.start()
    try:
        gate = ChangeGate(sidecar.pipeline.submit)
        writer = SyncWriter(options, gate.changed)
        return asyncio.run(
            serve(
                config,
                selections=selections,
                writer=writer,
                gate=gate,
                registry=sidecar.telemetry.registry,
                health=sidecar.telemetry.health,
                stall_timeout=args.stall_timeout,
                initial_reload=args.initial_reload,
            )
        )
    finally:
        sidecar.close()


def _plan(args: argparse.Namespace, default_namespace: str) -> list[Selection]:
    return plan(
        configmaps=args.configmap,
        secrets=args.secret,
        selector=args.selector,
        kind=args.kind,
        namespaces=args.namespace,
        all_namespaces=args.all_namespaces,
        default_namespace=default_namespace,
    )


async def _once(config: Cluster, selections: list[Selection], options: WriterOptions) -> int:
    writer = SyncWriter(options, lambda _source: None)
    writer.synced()  # log every write
    try:
        async with async_client(config) as client:
            unwritten = await sync_once(client, selections, writer)
    except KubeError as err:
        log.error("reading from %s failed: %s", config.server, err)
        return 1
    if unwritten:  # an init container must not start the app on a partial directory
        log.error("sync --once failed: not written: %s", "; ".join(unwritten))
        return 1
    return 0
