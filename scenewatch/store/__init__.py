"""Storage: the database schema and queries, and the media files beside it."""
