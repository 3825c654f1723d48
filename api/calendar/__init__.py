"""The patient's schedule as a subscribable iCalendar feed (docs/api.md#calendar-feed).

- ``labels``: the generic name a calendar shows for each kind of due item;
- ``feed``: builds the iCalendar document (the icalendar library) from the due items;
- ``services``: issues, rotates and revokes a patient's secret feed address, and finds the
  feed a secret names;
- ``views``: the API's doors to them.
"""
