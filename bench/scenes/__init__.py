"""Composite rule scenes: real footage with real objects held in place (stopped cars, fallen
people) where the footage at hand has none, with known truth. Composites, not real stops or
falls: see ``spec`` for the scenes and their dev/test split, ``make`` for how they are made."""
