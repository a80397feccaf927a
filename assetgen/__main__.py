import sys

from assetgen.cli import main

sys.exit(main())
