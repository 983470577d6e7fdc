"""Test helpers: real stream servers."""
