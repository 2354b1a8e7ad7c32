"""Pristine plugin ``environment``: client configuration from environment variables, declared as data.

A manifest's ``features.environment`` block says which variable feeds what (headers, secret
headers such as Cloudflare Access credentials, query parameters, a proxy, pool sizes, the default
pool, a profile, ``config`` keys, logger levels, request dumps); the plugin reads them once per
client and hands the core a :class:`~pristine_core.defaults.ClientDefaults` through the
``pristine_client_defaults`` hook. See this plugin's README for every target.
"""

from __future__ import annotations

from pristine_plugins.environment.plugin import EnvironmentPlugin
from pristine_plugins.environment.reader import Reading, platform_fact, resolve
from pristine_plugins.environment.settings import SECTION, SETTINGS, EnvironmentBlock, Profile, Variable

__all__ = [
    "SECTION",
    "SETTINGS",
    "EnvironmentBlock",
    "EnvironmentPlugin",
    "Profile",
    "Reading",
    "Variable",
    "platform_fact",
    "resolve",
]
