"""Writes of the devices app: the mirror (sync), configuration pushes (config)."""
