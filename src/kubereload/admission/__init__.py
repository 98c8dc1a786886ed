"""Judging ConfigMaps and Secrets before they are stored: rules, the engine, the webhook."""

from kubereload.admission.engine import Check, Engine, NoSchemas, SchemaUnavailable, Verdict
from kubereload.admission.rules import Rule, Rules, RulesError, load_rules

__all__ = [
    "Check",
    "Engine",
    "NoSchemas",
    "Rule",
    "Rules",
    "RulesError",
    "SchemaUnavailable",
    "Verdict",
    "load_rules",
]
