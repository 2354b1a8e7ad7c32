"""Pristine's runtime services (the ``pristine-runtime`` distribution), manifest-agnostic.

Nothing here knows of manifests, clients or plugins; ``pristine-core`` builds on it and installs it:

- :mod:`pristine_runtime.clock`: the injectable clock (``SystemClock``, ``FakeClock``);
- :mod:`pristine_runtime.scheduler`, :mod:`pristine_runtime.lanes`, :mod:`pristine_runtime.handle`:
  bounded worker threads, named lanes and one timer, on that clock;
- :mod:`pristine_runtime.aio` and :mod:`pristine_runtime.fanout`: awaiting and fanning out scheduler work;
- :mod:`pristine_runtime.backoff`: jittered exponential delays and ``Retry-After`` parsing;
- :mod:`pristine_runtime.sockguard`: deadline guards that cut a socket when a call's time runs out;
- :mod:`pristine_runtime.secrets`: the process-wide secret registry and redaction;
- :mod:`pristine_runtime.tenancy`: a server plus a key digest, the key of process-wide shared state;
- :mod:`pristine_runtime.eventlog`: where the services report events (the owner passes its logger).

Import the module you need; this package imports none of them.
"""

__version__ = "0.1.0"
