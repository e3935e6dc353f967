"""The explorer API's documented schema, served at ``GET /api/schema``.

What belongs here: :data:`SCHEMA` — every endpoint with its method, parameters (or body), what
it returns and how it fails — as plain data, so scripts can read it and a test can check that
every route is documented. What does not: the routes themselves (:mod:`kpitree.serve.app`) or
the prose guide (``docs/explorer.md``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA"]

_PERIODS = [
    {"name": "base", "type": "string", "required": False,
     "description": "base period as in the period column (default: the session's)"},
    {"name": "compare", "type": "string", "required": False,
     "description": "compare period (default: the session's)"},
]
_METHOD = {"name": "method", "type": "string", "enum": ["shapley", "sequential", "lmdi"],
           "required": False, "description": "attribution method (default: shapley)"}
_BY = {"name": "by", "type": "string", "repeated": True, "required": False,
       "description": "segment dimensions, outermost first; absent: the tree's segments; "
                      "'by=' alone: none (totals only)"}
_WHERE = {"name": "where", "type": "string", "repeated": True, "required": False,
          "description": "a node's conditions from the root down, each 'dim=value' "
                         "(e.g. where=tier=pro&where=region=EU); absent: the root"}
_LEVERS = ("levers: [{\"key\": \"base_pu[tier=pro]\", \"value\": \"+10%\"}, …] in the "
           "order applied; keys DRIVER[dim=value], share[dim=value], move[dim=a->b]; values "
           "+5pp, -2pp, +10%, *1.1, +2, =0.3, =30% (a bare number sets)")

SCHEMA: dict[str, Any] = {
    "name": "kpitree explorer API",
    "errors": "bad input: status 400 with {\"error\": MESSAGE, \"message\": \"kpitree: error: "
              "MESSAGE\", \"type\": ERROR_CLASS} — the same one line as the command line; an "
              "unknown path: 404; a bug: 500. Numbers are full precision; every 'text' block "
              "holds the same figures formatted as kpitree shows them.",
    "endpoints": [
        {"path": "/api/meta", "method": "GET", "parameters": [],
         "returns": "tree, title, metric, metric_label, unit, weight, segments, dimensions, "
                    "periods, base, compare, methods, drivers [{node, path, label}], exports"},
        {"path": "/api/explain", "method": "GET", "parameters": [*_PERIODS, _BY, _METHOD],
         "returns": "exactly the JSON of `kpitree explain TREE DATA --base P0 --compare P1 "
                    "[--by …] [--method …] --format json` (DESIGN.md §4)"},
        {"path": "/api/drill", "method": "GET",
         "parameters": [*_PERIODS, _WHERE, _METHOD,
                        {"name": "by", "type": "string", "required": False,
                         "description": "the dimension to split the node by, or 'auto' (the "
                                        "default): the one the driver search ranks first"}],
         "returns": "where, label, by, chosen ('you' or 'biggest mover'), ranking, node {base, "
                    "compare, delta (its own change), mix, rate, contribution (to the root's "
                    "change), factor, text}, children [{value, status, mark, base {share, "
                    "value, weight}, compare {…}, local {mix, interaction, rate, contribution} "
                    "(explain on the node's rows), total {…} (contributions to the root's "
                    "change), drivers [{label, value, text}], drillable, text}], check "
                    "{children = node_rate, local_children = local_delta}"},
        {"path": "/api/drivers", "method": "GET",
         "parameters": [*_PERIODS,
                        {"name": "dim", "type": "string", "repeated": True, "required": False,
                         "description": "candidate dimensions (default: all)"},
                        {"name": "depth", "type": "integer", "required": False,
                         "description": "most conditions per segment (default 2)"},
                        {"name": "max_segments", "type": "integer", "required": False,
                         "description": "most segments found (default 5)"}],
         "returns": "the JSON of `kpitree drivers … --bootstrap 0 --format json`"},
        {"path": "/api/levers", "method": "GET",
         "parameters": [{"name": "period", "type": "string", "required": False,
                         "description": "the period whose levers to list (default: compare)"}],
         "returns": "period, by, levers [{key, kind (driver|share), node, label, segment, "
                    "format, current, min, max (null: unbounded), slider_max, fixed, text}]"},
        {"path": "/api/whatif", "method": "POST",
         "body": f"{{period (default: compare), {_LEVERS}, method}}",
         "returns": "scenario, period, levers, actual, value, delta, totals, bridge [{lever, "
                    "change, value, delta, mix, rate, text}] (one bar per lever, in order), "
                    "text, explanation (the JSON of actual → what-if)"},
        {"path": "/api/goal", "method": "POST",
         "body": "{period, lever (a driver or share key), target (a number), method}",
         "returns": "lever, target, current, value (the lever's value reaching the target), "
                    "text, scenario (as /api/whatif)"},
        {"path": "/api/trend", "method": "GET",
         "parameters": [{"name": "start", "type": "string", "required": False,
                         "description": "first period (default: the first)"},
                        {"name": "end", "type": "string", "required": False,
                         "description": "last period (default: the last)"}, _BY, _METHOD],
         "returns": "the Trend JSON of `kpitree trend … --format json` plus text: values "
                    "[{period, value, weight, delta, mix, rate, text}], chained, direct"},
        {"path": "/api/export", "method": "GET",
         "parameters": [{"name": "format", "type": "string", "enum": ["json", "html", "pptx"],
                         "required": False, "description": "json (default), html (the "
                                                           "review pack's report.html), pptx"},
                        *_PERIODS, _WHERE, _BY, _METHOD,
                        {"name": "levers", "type": "string (JSON)", "required": False,
                         "description": "a what-if to add: the JSON list of /api/whatif's "
                                        "levers, applied to 'period' (default: compare)"},
                        {"name": "period", "type": "string", "required": False,
                         "description": "the what-if's period (default: compare)"}],
         "returns": "a download: the explanation of the node's rows by the dimensions (json, "
                    "with 'where' and the what-if as 'scenario'), its self-contained "
                    "review-pack page (html), or the slides with the what-if (pptx)"},
        {"path": "/api/schema", "method": "GET", "parameters": [], "returns": "this document"},
    ],
}
