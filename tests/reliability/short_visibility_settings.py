"""The project's settings with a Redis visibility timeout of 2 s, checked every second.

For the "no ETA trap" test (docs/operations.md#no-reminder-is-lost): a message a worker holds
unacked for longer than the visibility timeout is put back in the queue and delivered again.
netcare's settings keep it at an hour; here it is short enough for a test to see redeliveries.
"""

from netcare.settings import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 2,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
