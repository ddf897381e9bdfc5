"""Survey views."""
