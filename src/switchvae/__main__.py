"""`python -m switchvae` runs the command line."""

import sys

from switchvae.cli import main

sys.exit(main())
