"""The manager's public methods, one mixin per domain, so each domain lives in its own file.

``SwarmDatabaseManager`` inherits every mixin; each mixin's ``_attach_<part>``
runs at the end of the manager's ``__init__`` and ``_detach_<part>`` at the
start of ``close`` (in reverse order).
"""
