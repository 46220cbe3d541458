"""Where the real data for tests lives: $TLDOMAIN_TEST_DATA (CI: ../shared/data,
see its README.md). Tests that need it skip, saying why, when it is unset."""

import os

REAL_DATA = os.environ.get("TLDOMAIN_TEST_DATA")
REAL_DATA_UNSET = ("TLDOMAIN_TEST_DATA is not set; point it at the real data folder "
                   "(../shared/data, as .ci/run does) to run the real-data tests")
