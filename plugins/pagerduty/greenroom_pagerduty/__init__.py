"""Placeholder until the plugin lands."""
from greenroom import create_plugin

plugin = create_plugin(id="pagerduty")
