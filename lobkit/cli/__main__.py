"""``python -m lobkit.cli``: the ``lobkit`` command."""

from lobkit.cli import main

main()
