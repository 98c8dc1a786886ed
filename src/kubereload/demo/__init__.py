"""``kubereload demo``: a tiny web service that hot-reloads its ConfigMap-style config.

``server`` is the service (a plain user of ``kubereload.watch``); ``volume`` is the simulated
ConfigMap volume it reads without a cluster, and how ``kubereload demo set`` changes it.
"""
