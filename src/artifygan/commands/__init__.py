"""One module per CLI subcommand, each with ``add(subparsers)`` and ``run(args) -> exit code``."""
