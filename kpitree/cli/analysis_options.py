"""The options of ``kpitree whatif``, of ``explain --total``/``--bridge`` and of the review
pack's extras (``report --pptx --xlsx --lever --total``).

What belongs here: argparse only, like :mod:`kpitree.cli.parser`, which calls these functions
(kept apart so the parser module stays small; importing this loads nothing but argparse). What
does not: running the analyses (:mod:`kpitree.cli.analyses`) or checks across options.
"""

from __future__ import annotations

import argparse

__all__ = ["add_explain_extras", "add_pack_extras", "add_whatif", "fraction"]

LEVER_HELP = ("a what-if lever KEY=VALUE, repeatable, applied in order: "
              "'base_pu[tier=pro]=*1.10', 'attach[tier=pro]=+5pp', 'share[tier=pro]==20%%', "
              "'move[tier=team->pro]=10%%'")


def fraction(text: str) -> float:
    """Argument type: a fraction strictly between 0 and 1 (``--sensitivity 0.1``)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a fraction between 0 and 1 "
                                         "(e.g. 0.1 for ±10 %)")
    return value


def add_whatif(parser: argparse.ArgumentParser) -> None:
    """``kpitree whatif TREE DATA --period P --lever … [--goal …] [--sensitivity]``."""
    parser.add_argument("--period", required=True, help="the period the levers change")
    parser.add_argument("--lever", action="append", metavar="KEY=VALUE", help=LEVER_HELP)
    parser.add_argument("--goal", metavar="LEVER=TARGET",
                        help="goal seek: the value of one driver or share lever at which the "
                             "root reaches TARGET, e.g. 'share[tier=pro]=56'")
    parser.add_argument("--sensitivity", nargs="?", type=fraction, const=0.10, default=None,
                        metavar="STEP",
                        help="elasticity of the root to every driver and share, each moved "
                             "by ±STEP (default 0.1)")
    parser.add_argument("--chart", metavar="FILE",
                        help="also write the scenario's bridge by lever (.png, .svg or .pdf)")
    parser.add_argument("--tornado", metavar="FILE",
                        help="also write the sensitivity tornado (.png, .svg or .pdf)")


def add_explain_extras(parser: argparse.ArgumentParser) -> None:
    """``explain --total [--fold-interaction]`` and ``explain --bridge FILE``."""
    parser.add_argument("--total", action="store_true",
                        help="explain weight × root (MRR = users × ARPU) as volume, mix and "
                             "rate: the price-volume-mix bridge")
    parser.add_argument("--fold-interaction", action="store_true",
                        help="with --total --method sequential: fold the mix × rate "
                             "interaction into rate (price at actual volume, as in FP&A)")
    parser.add_argument("--bridge", dest="bridge_file", metavar="FILE",
                        help="also write the bridge chart (.png, .svg or .pdf)")


def add_pack_extras(parser: argparse.ArgumentParser) -> None:
    """The review pack's slides, workbook and extra analyses."""
    parser.add_argument("--pptx", action="store_true",
                        help="also write the slides, deck.pptx (python-pptx)")
    parser.add_argument("--xlsx", action="store_true",
                        help="also write the workbook, workbook.xlsx, totals as live formulas")
    parser.add_argument("--lever", action="append", metavar="KEY=VALUE",
                        help="add a what-if section on the compare period: " + LEVER_HELP)
    parser.add_argument("--sensitivity", nargs="?", type=fraction, const=0.10, default=None,
                        metavar="STEP", help="add the sensitivity tornado of the compare period")
    parser.add_argument("--total", action="store_true",
                        help="add the volume / mix / rate bridge of weight × root")
    parser.add_argument("--depth", type=int, default=None, metavar="N",
                        help="tree image: boxes down to depth N only (the root is 0)")
    parser.add_argument("--tree-top", type=int, default=None, metavar="N",
                        help="tree image: the N largest children per box, the rest summed in "
                             "'other N'")
