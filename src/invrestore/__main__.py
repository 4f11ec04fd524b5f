"""``python -m invrestore`` runs the command line."""

from invrestore.cli.main import main

main()
