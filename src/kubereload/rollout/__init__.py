"""The rollout controller's core: which workloads use which ConfigMaps/Secrets, and when to roll.

Pure modules, no I/O: the kinds of workload (``kinds``), references (``refs``), annotations,
digests of ConfigMaps/Secrets (``digests``), the workload index, the decision, patch bodies,
Events, storm control and ``explain``; the controller drives them through ``kube``.
"""
