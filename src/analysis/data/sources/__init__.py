"""Readers for raw source files; each returns one tidy shape (area, period, value, ...)."""
