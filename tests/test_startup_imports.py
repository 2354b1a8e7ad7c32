"""Start-up guard: listing the installed plugins (what ``pristine plugins`` does) imports each
plugin, yet none of the heavy machinery a client needs later (issue 9, ``bench/startup.py``)."""

from __future__ import annotations

import json
import subprocess
import sys

#: Modules a plugin listing must not import: requests and urllib3 (the transport), cattrs and the
#: manifest loader (the strict converter), the type registry, the codegen generator, OpenTelemetry.
HEAVY = (
    "requests",
    "urllib3",
    "cattrs",
    "pristine_core.manifest.loader",
    "pristine_core.manifest.claims",
    "pristine_core.typesystem.registry",
    "pristine_core.transport",
    "pristine_codegen.generator",
    "opentelemetry",
    "numpy",
)

PROGRAM = """
import json, sys
from pristine_core.plugins import PluginSelection, build_plugin_manager
_pm, records, failures = build_plugin_manager(PluginSelection.resolve())
heavy = json.loads(sys.argv[1])
print(json.dumps({
    "plugins": [r.name for r in records],
    "failures": [f.name for f in failures],
    "heavy": [name for name in heavy if name in sys.modules],
}))
"""


def test_listing_every_plugin_imports_none_of_the_heavy_modules() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps(HEAVY)], capture_output=True, text=True, timeout=60, check=True
    )
    report = json.loads(done.stdout)
    assert {"retry", "pool", "streaming", "otel", "telemetry"} <= set(report["plugins"])
    assert report["failures"] == []
    assert report["heavy"] == []
