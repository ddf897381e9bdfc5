"""Placeholder until its helper fills it in."""


def register(group) -> None:
    """Attach this module's commands to the `flask mscore` group."""
