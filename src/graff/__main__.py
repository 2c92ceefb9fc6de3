"""``python -m graff`` runs the ``graff`` command."""

import sys

from graff.cli import main

sys.exit(main())
