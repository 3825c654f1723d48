"""The coordinator's door: the admin site, its worklist, course page and event forms."""
