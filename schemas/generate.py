"""Writes the JSON Schema file of every record model into schemas/json/. A test keeps them in sync:
run `python -m schemas.generate` after changing a model, and commit the result with it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from schemas.topics import RECORD_MODELS

OUT_DIR = Path(__file__).parent / "json"


def render(model: type[BaseModel] | TypeAdapter[Any]) -> str:
    if isinstance(model, TypeAdapter):
        schema = model.json_schema(by_alias=True, mode="serialization")
    else:
        schema = model.model_json_schema(by_alias=True, mode="serialization")
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def expected_files() -> dict[Path, str]:
    return {OUT_DIR / f"{topic.name}.schema.json": render(model) for topic, model in RECORD_MODELS.items()}


def main() -> int:
    OUT_DIR.mkdir(exist_ok=True)
    for path, text in expected_files().items():
        path.write_text(text)
        sys.stdout.write(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
