"""Interface layer: the command-line commands, one module each, exposing ``add_parser(subparsers)``.

:mod:`execution.cli` registers every module named in its ``COMMANDS``; each parses its arguments
and calls the library (the layers below), importing heavy parts inside ``run`` so that
``python -m execution --help`` stays fast.
"""

__all__: list[str] = []
