import sys

from kubectl_canary.cli import main

sys.exit(main())
