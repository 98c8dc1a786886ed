"""Change detectors: inotify on the directory, with a polling fallback."""

from kubereload.watch.detector import Detector

__all__ = ["Detector"]
