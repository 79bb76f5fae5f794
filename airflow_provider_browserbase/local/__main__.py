"""``python -m airflow_provider_browserbase.local``."""

from __future__ import annotations

import sys

from airflow_provider_browserbase.local.cli import main

sys.exit(main())
