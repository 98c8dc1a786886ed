"""``python -m kubereload`` is the ``kubereload`` command."""

import sys

from kubereload.cli.main import main

sys.exit(main())
