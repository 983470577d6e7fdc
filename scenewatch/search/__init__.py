"""Plain-language search: query understanding (English and Chinese)."""

from scenewatch.search.query import CarriedItem, Colour, Motion, ObjectClause, Query, parse_query

__all__ = ["CarriedItem", "Colour", "Motion", "ObjectClause", "Query", "parse_query"]
