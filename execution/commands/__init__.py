"""Command-line commands: one module each, exposing ``add_parser(subparsers)``."""
