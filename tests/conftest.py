"""Shared pytest set-up. Fixture plugins that many test folders use are listed here."""

pytest_plugins = ["kubeapi.fixtures"]
