"""One module per source: the aiohttp handler that verifies, parses, normalizes (pure helpers) and publishes."""
