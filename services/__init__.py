"""Touchpoint's three processes (ingest, classifier, reporting) and the small runtime they share."""
