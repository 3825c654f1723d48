"""The app's settings plus the bench URLconf, which adds the two floor views.

Everything else (middleware, auth, throttles, database, cache) is exactly netcare.settings,
still driven by the environment the bench scripts pass.
"""

from netcare.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
