"""What the tests (and the benchmarks in ``bench/``) share, so no test module imports another.

- ``process``: programs run as real processes, and the states to wait on (a listening port, an
  inotify watch, a file, an HTTP answer, an exit), never a log line standing in for a state;
- ``objects``: ConfigMap, Secret and workload builders;
- ``webhook``: a local webhook receiver that records every call;
- ``controller``: ``kubereload controller`` processes and what they leave on the API server;
- ``demo``: ``kubereload demo`` processes and their HTTP answers;
- ``informer``: a recording informer handler that checks every call against the last one;
- ``fixtures``: the pytest fixtures, registered for every test folder by ``tests/conftest.py``.

``tests/kubeapi`` (the project's test API server) stays a package of its own.
"""
