"""`python -m switchvae.cli` runs the command line."""

import sys

from switchvae.cli.app import main

sys.exit(main())
