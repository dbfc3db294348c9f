"""Alerts for supervisors: the alert feed every reader follows, its SQL, the resumable server-sent event stream,
and signed webhook subscriptions and their deliveries, each scoped to the caller's force."""
