"""Process-wide plumbing every stage may use: quiet imports of the heavy backends, devices and
threads, where the stores live (URLs, locks, masked credentials), and the ``autodl`` logger."""
