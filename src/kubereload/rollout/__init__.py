"""The rollout controller's core: which workloads use which ConfigMaps/Secrets, and when to roll.

Pure modules, no I/O: references (``refs``), annotations, digests of objects (``sources``),
the workload index, the decision, patch bodies, storm control, leader election and ``explain``.
"""
