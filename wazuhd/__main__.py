import sys

from wazuhd.cli import main

sys.exit(main())
