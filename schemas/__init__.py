"""Touchpoint's event and topic contracts: pydantic models (one source of truth), the topic catalogue, and the
JSON Schema files generated from them (`python -m schemas.generate`) for analysts and other consumers."""
