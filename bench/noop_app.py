"""The baseline for the ingest benchmark: the same kind of aiohttp process as ingest (AppRunner + TCPSite, no
access log), answering POST /webhooks/generic with 202 after reading the body, and doing nothing else.

    python -m bench.noop_app --port 8090"""

from __future__ import annotations

import argparse

from aiohttp import web

from services.runtime.lifecycle import run_process, shutdown_event


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"status": "accepted"}, status=202)


async def ready(request: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


def build_app() -> web.Application:
    app = web.Application(client_max_size=1_048_576)
    app.router.add_post("/webhooks/generic", accept)
    app.router.add_get("/readyz", ready)
    return app


async def serve(port: int) -> None:
    runner = web.AppRunner(build_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await shutdown_event().wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    run_process(serve(parser.parse_args().port))  # the same event loop as the services, for a like-for-like baseline


if __name__ == "__main__":
    main()
