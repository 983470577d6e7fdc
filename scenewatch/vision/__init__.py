"""Models that look at pixels: object detectors, pose, attributes."""
