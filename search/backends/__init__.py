"""Index backends.  The engine talks to them through ``base.IndexBackend``;
only ``search/backends/whoosh/`` may import whoosh."""
