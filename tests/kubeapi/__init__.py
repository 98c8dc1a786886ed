"""An in-process Kubernetes API server for tests: the real protocol, with fault injection."""
