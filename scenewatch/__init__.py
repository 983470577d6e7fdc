"""SceneWatch: self-hosted video analytics."""

__version__ = "0.1.0"
