"""Shared pytest set-up: the fixtures of the test support package, for every test folder."""

pytest_plugins = ["support.fixtures"]
