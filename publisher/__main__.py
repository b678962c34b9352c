"""``python -m publisher``: the ``herold`` command."""

from publisher.edges.cli import main

main()
