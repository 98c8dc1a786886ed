"""Sidecars as a library: typed options in, a running reloader out (what ``kubereload watch``,
``run`` and ``sync`` assemble from their flags).

    options = SidecarOptions(
        paths=[Path("/etc/nginx/conf.d")],
        reload=ReloadOptions(
            validate="nginx -t",
            actions=[SignalOptions(signal.SIGHUP, process_name="nginx")],
        ),
    )
    with Sidecar(options):
        ...
"""

from kubereload.sidecar.options import ReloadOptions, SidecarOptions
from kubereload.sidecar.sidecar import Sidecar, build_pipeline
from kubereload.sidecar.watched import WatchedPaths

__all__ = ["ReloadOptions", "Sidecar", "SidecarOptions", "WatchedPaths", "build_pipeline"]
