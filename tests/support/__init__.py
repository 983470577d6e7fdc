"""Test helpers: real stream and app servers."""
