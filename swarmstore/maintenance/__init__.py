"""Upkeep of a store: check, garbage collection and copying between backends."""
