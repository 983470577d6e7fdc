"""Accuracy measurement against labelled footage (MOTChallenge protocol)."""
