"""Dataset versions in the store: the write order, reads and imports (issue 4)."""
