import sys

from kubectl_canary.startup import main

sys.exit(main())
