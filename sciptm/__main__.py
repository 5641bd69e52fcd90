"""``python -m sciptm ...`` is the ``sciptm`` command."""
from sciptm.cli.main import main

main()
