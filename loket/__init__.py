"""Composition root: settings, CLI and the process runner."""
