"""Browser libraries installed from the npm registry at set-up (package.json, `make venv`), served from
node_modules as they are: nothing from a CDN, no library file kept in the repository."""

from __future__ import annotations

from pathlib import Path

from services.reporting.problems import not_found
from services.reporting.views import Ctx, Result

# The files pages may load, by the name they use, and where npm puts them.
VENDOR: dict[str, str] = {"chart.umd.min.js": "chart.js/dist/chart.umd.min.js"}
CHECKOUT_MODULES = Path(__file__).resolve().parents[2] / "node_modules"


def modules_dir(configured: str) -> Path:
    return Path(configured) if configured else CHECKOUT_MODULES


async def vendor(ctx: Ctx) -> Result:
    name = ctx.request.match_info["name"]
    if name not in VENDOR:
        raise not_found("file")
    path = modules_dir(ctx.deps.settings.assets_dir) / VENDOR[name]
    if not path.is_file():
        raise not_found(f"{name} (run `make venv`: it installs the browser libraries with npm)")
    return Result(
        {}, raw=path.read_bytes(), content_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"}
    )
