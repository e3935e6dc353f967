"""The explorer's web app: the JSON API and the page, on Starlette.

What belongs here: the routes (the API of :mod:`kpitree.serve.schema` and the page's static
files), reading query parameters and bodies, and the error policy of the API — kpitree's own
errors are bad input: status 400 with the CLI's one line (``{"error": …, "message": "kpitree:
error: …"}``); anything else is a bug: status 500, one line, no traceback. What does not: the
questions asked of the engine (:mod:`kpitree.serve.session`, :mod:`kpitree.serve.scenarios`),
the documents (:mod:`kpitree.serve.documents`), starting a server (:mod:`kpitree.serve.server`).

Starlette is imported inside :func:`create_app` through :func:`kpitree.core.optional.require`
(the ``serve`` extra), so importing this module needs nothing optional. The page is static
HTML/CSS/JS shipped in ``kpitree/serve/static/``: no CDN, no inline script, and a
Content-Security-Policy that only lets it talk to this server. Only hosts named when the app is
created are answered (DNS-rebinding guard).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from kpitree.core.errors import KpitreeError, UsageError
from kpitree.core.optional import require
from kpitree.core.safety import safe_filename
from kpitree.serve import documents, scenarios
from kpitree.serve.schema import SCHEMA
from kpitree.serve.session import AUTO, Condition, Explorer

__all__ = ["LOOPBACK_HOSTS", "STATIC", "create_app"]

STATIC = Path(__file__).with_name("static")
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; "
                               "object-src 'none'; base-uri 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def create_app(explorer: Explorer, *, hosts: Sequence[str] = LOOPBACK_HOSTS) -> Any:
    """The Starlette app serving ``explorer``: the API under ``/api`` and the page at ``/``.

    Args:
        explorer: the session (:meth:`Explorer.open`).
        hosts: the ``Host`` names answered (default: loopback only); ``"*"`` answers any.
    """
    applications = require("starlette.applications", purpose="the explorer")
    responses = require("starlette.responses", purpose="the explorer")
    routing = require("starlette.routing", purpose="the explorer")
    staticfiles = require("starlette.staticfiles", purpose="the explorer")
    middleware = require("starlette.middleware", purpose="the explorer")
    trusted = require("starlette.middleware.trustedhost", purpose="the explorer")
    JSONResponse, Response = responses.JSONResponse, responses.Response

    def api(handler: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
        async def endpoint(request: Any) -> Any:
            try:
                result = await handler(request)
            except KpitreeError as exc:
                return JSONResponse({"error": str(exc), "message": f"kpitree: error: {exc}",
                                     "type": type(exc).__name__}, status_code=400)
            except Exception as exc:  # a bug: one line, never a traceback to the client
                return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}",
                                     "message": "kpitree: internal error (see the server's "
                                                "terminal)", "type": "InternalError"},
                                    status_code=500)
            if isinstance(result, Response):
                return result
            return JSONResponse(result)
        return endpoint

    async def meta(request: Any) -> Any:
        return documents.meta_document(explorer)

    async def schema(request: Any) -> Any:
        return SCHEMA

    async def explain(request: Any) -> Any:
        query = request.query_params
        return explorer.explain(base=query.get("base"), compare=query.get("compare"),
                                by=by_list(query), method=query.get("method", "shapley")
                                ).to_dict()

    async def drill(request: Any) -> Any:
        query = request.query_params
        by = query.get("by") or AUTO
        result = explorer.drill(where_list(query), by, base=query.get("base"),
                                compare=query.get("compare"),
                                method=query.get("method", "shapley"))
        return documents.drill_document(explorer, result)

    async def drivers(request: Any) -> Any:
        query = request.query_params
        base, compare = explorer.check_periods(query.get("base"), query.get("compare"))
        dims = [explorer.check_dimension(d) for d in query.getlist("dim")] or \
            list(explorer.dimensions)
        depth = whole(query.get("depth", "2"), "depth")
        segments = whole(query.get("max_segments", "5"), "max_segments")
        from kpitree.analysis.drivers import drivers as search

        return search(explorer.tree, explorer.source, base=base, compare=compare, dims=dims,
                      depth=depth, max_segments=segments,
                      period_column=explorer.period_column).to_dict()

    async def levers(request: Any) -> Any:
        return documents.levers_text(explorer, scenarios.levers(
            explorer, request.query_params.get("period")))

    async def whatif(request: Any) -> Any:
        body = await json_body(request)
        scenario = scenarios.scenario(explorer, body.get("period"),
                                      scenarios.parse_levers(body.get("levers")),
                                      method=str(body.get("method", "shapley")))
        return documents.scenario_document(explorer, scenario)

    async def goal(request: Any) -> Any:
        body = await json_body(request)
        if "lever" not in body or "target" not in body:
            raise UsageError('goal: give {"lever": "base_pu[tier=pro]", "target": 56}')
        found = scenarios.goal(explorer, body.get("period"), str(body["lever"]),
                               body["target"], method=str(body.get("method", "shapley")))
        return documents.goal_document(explorer, found)

    async def trend(request: Any) -> Any:
        query = request.query_params
        series = scenarios.series(explorer, start=query.get("start"), end=query.get("end"),
                                  by=by_list(query), method=query.get("method", "shapley"))
        return documents.trend_document(explorer, series)

    async def export(request: Any) -> Any:
        query = request.query_params
        kind = query.get("format", "json")
        where = explorer.check_where(where_list(query))
        base, compare = explorer.check_periods(query.get("base"), query.get("compare"))
        by = by_list(query)
        if by is None:
            by = [d for d in explorer.tree.segments if d not in {w for w, _ in where}]
        result = explorer.explain_where(where, by, base=base, compare=compare,
                                        method=query.get("method", "shapley"))
        stem = safe_filename("_".join([explorer.tree.name, base, compare,
                                       *(f"{d}-{v}" for d, v in where)]))
        if kind not in ("json", "html", "pptx"):
            raise UsageError(f"export: unknown format '{kind}'; use json, html or pptx")
        pairs = levers_param(query)
        scenario = (scenarios.scenario(explorer, query.get("period"), pairs,
                                       method=result.method) if pairs else None)
        if kind == "json":
            document = {**result.to_dict(), "where": [{"dim": d, "value": v} for d, v in where]}
            if scenario is not None:
                document["scenario"] = documents.scenario_document(explorer, scenario)
            return attachment(Response, json.dumps(document, indent=2, allow_nan=False),
                              "application/json", f"{stem}.json")
        if kind == "html":
            from kpitree.present.report import build_report, render_html

            page = render_html(build_report(result))
            return attachment(Response, page, "text/html; charset=utf-8", f"{stem}.html")
        if "pptx" not in documents.export_formats():
            raise UsageError("PPTX export needs the deck writer (kpitree.present.deck), which "
                             "this version does not have; export html or json")
        from kpitree.present.deck import build_deck

        return attachment(Response, build_deck(result, scenario=scenario), PPTX, f"{stem}.pptx")

    async def index(request: Any) -> Any:
        return responses.FileResponse(STATIC / "index.html", media_type="text/html")

    async def not_found(request: Any, exc: Any) -> Any:
        return JSONResponse({"error": f"no such page: {request.url.path}", "type": "NotFound",
                             "message": f"kpitree: error: no such page: {request.url.path}; "
                                        "see /api/schema"}, status_code=exc.status_code)

    routes = [
        routing.Route("/", index),
        routing.Route("/api/schema", api(schema)),
        routing.Route("/api/meta", api(meta)),
        routing.Route("/api/explain", api(explain)),
        routing.Route("/api/drill", api(drill)),
        routing.Route("/api/drivers", api(drivers)),
        routing.Route("/api/levers", api(levers)),
        routing.Route("/api/whatif", api(whatif), methods=["POST"]),
        routing.Route("/api/goal", api(goal), methods=["POST"]),
        routing.Route("/api/trend", api(trend)),
        routing.Route("/api/export", api(export)),
        routing.Mount("/static", staticfiles.StaticFiles(directory=str(STATIC))),
    ]
    stack = [middleware.Middleware(trusted.TrustedHostMiddleware, allowed_hosts=list(hosts)),
             middleware.Middleware(SecurityHeaders)]
    return applications.Starlette(routes=routes, middleware=stack,
                                  exception_handlers={404: not_found, 405: not_found})


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                         if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def attachment(response: Any, content: str | bytes, media_type: str, filename: str) -> Any:
    """A download named ``filename`` (already reduced to safe characters)."""
    return response(content, media_type=media_type,
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


def by_list(query: Any) -> list[str] | None:
    """``by=tier&by=region`` → the dimensions; absent: ``None`` (the tree's); ``by=``: none."""
    if "by" not in query:
        return None
    return [d for d in query.getlist("by") if d.strip()]


def levers_param(query: Any) -> list[tuple[str, object]]:
    """``levers=[{"key": …, "value": …}, …]`` (JSON) → the lever pairs; absent: none."""
    if "levers" not in query:
        return []
    try:
        raw = json.loads(query["levers"])
    except ValueError:
        raise UsageError('levers: give JSON, e.g. [{"key": "attach[tier=pro]", '
                         '"value": "+5pp"}]') from None
    return scenarios.parse_levers(raw)


def where_list(query: Any) -> list[Condition]:
    """``where=tier=pro&where=region=EU`` → ``[("tier", "pro"), ("region", "EU")]``."""
    conditions: list[Condition] = []
    for item in query.getlist("where"):
        if "=" not in item:
            raise UsageError(f"where: '{item}' is not dim=value (e.g. where=tier=pro)")
        dim, value = (part.strip() for part in item.split("=", 1))
        conditions.append((dim, value))
    return conditions


def whole(text: str, name: str) -> int:
    """A query parameter that must be a whole number ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{name}: '{text}' is not a positive whole number")
    return value


async def json_body(request: Any) -> dict[str, Any]:
    """The request's JSON object, or a one-line error."""
    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise UsageError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise UsageError("the request body must be a JSON object")
    return body
