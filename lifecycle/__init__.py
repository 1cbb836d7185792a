"""Offboarding: states and policies, staged suspend-then-delete tasks, HR review."""
