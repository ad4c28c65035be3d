import sys

from words.cli import main

sys.exit(main())
