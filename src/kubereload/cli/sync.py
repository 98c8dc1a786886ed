"""``kubereload sync``: ConfigMaps and Secrets from the API into a directory, then reload.

Files are written in the kubelet's own layout (``..data`` swapped atomically), within
milliseconds of the change instead of the kubelet's minute; then the same ``--validate`` and
reload actions as ``kubereload watch`` run. ``--once`` writes and exits (an init container).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

import httpx2 as httpx

from kubereload.cli.common import (
    ENV_HELP,
    Repeat,
    add_action_flags,
    add_kube_flags,
    add_service_flags,
    apply_env,
    build_pipeline,
    duration,
    fail,
    help_text,
    setup_logging,
    start_server,
    url_secrets,
)
from kubereload.cli.telemetry import Telemetry
from kubereload.kube.config import ClusterConfig, KubeConfigError, async_client, load_config
from kubereload.kube.errors import ApiError
from kubereload.kube.informer import Informer
from kubereload.kube.status import InformerStatus, run_informers
from kubereload.sync.background import BackgroundSync
from kubereload.sync.objects import ObjectFiles
from kubereload.sync.project import parse_items
from kubereload.sync.runner import (
    ChangeGate,
    make_informers,
    release_memory,
    retry_writes,
    sync_once,
)
from kubereload.sync.sources import Source, plan
from kubereload.sync.writer import ON_DELETE, SyncWriter, WriterOptions

log = logging.getLogger("kubereload.sync")


def file_mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an octal mode like 0644") from None
    if not 0 <= mode <= 0o777:
        raise argparse.ArgumentTypeError(f"{text!r}: a file mode is between 0000 and 0777")
    return mode


def add_sync_flags(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group(
        "what", "Name objects, or select them by labels (in the context's namespace by default)."
    )
    what.add_argument("--configmap", action=Repeat, metavar="[NS/]NAME", help="repeatable")
    what.add_argument("--secret", action=Repeat, metavar="[NS/]NAME", help="repeatable")
    what.add_argument("--selector", metavar="LABELS", help="label selector, e.g. app=web,tier!=db")
    what.add_argument(
        "--kind",
        choices=("configmap", "secret", "both"),
        default="configmap",
        help="with --selector (default configmap)",
    )
    what.add_argument("--namespace", action=Repeat, metavar="NS", help="with --selector")
    what.add_argument("--all-namespaces", action="store_true", help="with --selector")
    where = parser.add_argument_group(
        "where",
        "One named object: its keys are the files of DIR. Several, or --selector: one "
        "subdirectory per object, NAMESPACE_NAME (KIND_NAMESPACE_NAME when both kinds are "
        "synced), each with its own atomically swapped ..data.",
    )
    where.add_argument("--dir", type=Path, required=True, metavar="DIR", help="target directory")
    where.add_argument(
        "--items", action=Repeat, metavar="KEY=PATH", help="write only KEY, at PATH (repeatable)"
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
        help="write once and exit; non-zero if a named object is missing (init container)",
    )
    where.add_argument(
        "--stall-timeout",
        type=duration,
        default=150.0,
        metavar="DURATION",
        help="reconnect a watch that sent nothing, not even a bookmark, this long (default 150s)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sync",
        help="write ConfigMaps/Secrets from the API into a directory, then reload",
        description=help_text(__doc__),
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_sync_flags(parser)
    add_kube_flags(parser)
    add_action_flags(parser)
    add_service_flags(parser)
    apply_env(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    setup_logging(args, url_secrets(args.webhook))
    try:
        items = parse_items(args.items)
        sources = _plan(args, "default")  # usage errors first, before reading any kubeconfig
    except ValueError as err:
        return fail("sync", str(err))
    try:
        config = load_config(args.kubeconfig, args.context)
    except KubeConfigError as err:
        log.error("no cluster to read from: %s", err)
        return 1
    sources = _plan(args, config.namespace)
    options = WriterOptions(
        root=args.dir,
        per_object=not (len(sources) == 1 and sources[0].name),
        with_kind=len({s.kind for s in sources}) > 1,
        items=items or None,
        mode=args.mode,
        on_delete=args.on_delete,
    )
    log.info(
        "syncing %s into %s (%s)", "; ".join(s.describe() for s in sources), args.dir, config.source
    )
    if args.once:
        return asyncio.run(_once(config, sources, options))
    telemetry = Telemetry(unready_on_failure=args.unready_on_failure)
    try:
        pipeline = build_pipeline(args, telemetry, sources=())
    except ValueError as err:
        return fail("sync", str(err))
    try:
        server = start_server(args, telemetry)
    except (OSError, ValueError) as err:
        return fail("sync", f"--listen {args.listen}: {err}")
    pipeline.start()
    try:
        gate = ChangeGate(pipeline.submit)
        writer = SyncWriter(options, gate.changed)
        return asyncio.run(
            serve(config, sources=sources, writer=writer, gate=gate, telemetry=telemetry, args=args)
        )
    finally:
        pipeline.close()
        if server is not None:
            server.close()


def _plan(args: argparse.Namespace, default_namespace: str) -> list[Source]:
    return plan(
        configmaps=args.configmap,
        secrets=args.secret,
        selector=args.selector,
        kind=args.kind,
        namespaces=args.namespace,
        all_namespaces=args.all_namespaces,
        default_namespace=default_namespace,
    )


async def _once(config: ClusterConfig, sources: list[Source], options: WriterOptions) -> int:
    writer = SyncWriter(options, lambda _source: None)
    writer.synced()  # log every write
    try:
        async with async_client(config) as client:
            missing = await sync_once(client, sources, writer)
    except (ApiError, httpx.HTTPError) as err:
        log.error("reading from %s failed: %s", config.server, err)
        return 1
    for what in missing:
        log.error("%s not found", what)
    return 1 if missing or writer.errors else 0


async def serve(
    config: ClusterConfig,
    *,
    sources: list[Source],
    writer: SyncWriter,
    gate: ChangeGate,
    telemetry: Telemetry,
    args: argparse.Namespace,
) -> int:
    """Run the informers until SIGTERM/SIGINT; 1 if one of them died of a bug."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with async_client(config) as client:
        retry = asyncio.Event()
        informers = make_informers(
            client, sources, writer, stall_timeout=args.stall_timeout, retry=retry
        )
        status = InformerStatus(informers, telemetry.registry, telemetry.health)
        return await run_informers(
            informers,
            status,
            [("write retries", retry_writes(writer, retry))],
            stop,
            lambda: _synced(informers, writer, sources, gate, args.initial_reload),
        )


def _synced(
    informers: list[Informer[ObjectFiles]],
    writer: SyncWriter,
    sources: list[Source],
    gate: ChangeGate,
    initial_reload: bool,
) -> None:
    count = sum(len(i) for i in informers)
    writer.synced()
    release_memory()
    log.info("first sync done: %d objects, %d written", count, writer.writes)
    for informer, source in zip(informers, sources, strict=True):
        if source.name and not len(informer):
            log.warning("%s does not exist (yet): written when it appears", source.describe())
    gate.open()
    if initial_reload:
        gate.changed("start-up")


# -- the API as the source of ``kubereload run`` ---------------------------------------------

API_SYNC_TIMEOUT = 60.0


def start_api_sync(args: argparse.Namespace) -> BackgroundSync | None:
    """Start syncing ``--configmap``/``--secret`` into ``--dir`` and wait for the first write.
    None when no object is named; ValueError (a usage error) when it cannot start."""
    if not (args.configmap or args.secret):
        return None
    if len(args.dir) != 1 or args.file:
        raise ValueError("--configmap/--secret write into exactly one --dir (and no --file)")
    try:
        config = load_config(args.kubeconfig, args.context)
    except KubeConfigError as err:
        raise ValueError(str(err)) from err
    sources = plan(
        configmaps=args.configmap,
        secrets=args.secret,
        selector=None,
        kind="configmap",
        namespaces=[],
        all_namespaces=False,
        default_namespace=config.namespace,
    )
    options = WriterOptions(
        root=args.dir[0],
        per_object=len(sources) > 1,
        with_kind=len({s.kind for s in sources}) > 1,
    )
    sync = BackgroundSync(config, sources, options)
    sync.start()
    if not sync.wait_synced(API_SYNC_TIMEOUT):
        sync.close()
        raise ValueError(f"{config.server}: objects not read within {API_SYNC_TIMEOUT:g} s")
    return sync
