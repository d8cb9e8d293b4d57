"""Altair charts, one module per topic, and the palette they share. Domains never import this package."""
