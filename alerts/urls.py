"""Provider webhooks and the one-click unsubscribe link (no user authentication)."""

urlpatterns: list = []
