"""``kubereload sync``: ConfigMaps and Secrets from the API, written in the kubelet's layout."""
