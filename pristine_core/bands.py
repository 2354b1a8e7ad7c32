"""Priority bands: where a plugin sits in the order (higher runs first and wraps lower ones).

Leave gaps; third parties slot in between. Part of the public surface (``pristine_core.AUTH``...).
"""

#: Named priority bands; leave gaps so third parties can slot in between.
AUTH = 900
IDEMPOTENCY = 850
SESSION = 800
TELEMETRY = 750
RETRY = 700
CIRCUIT_BREAKER = 650
RATE_LIMIT = 600
POOL = 500
DOMAIN = 400
FUTURES = 300
STREAMING = 300
ENCODING = 200
DEFAULT_PRIORITY = 100
