"""The event log and webhooks: every state change is one event, fanned out to webhooks."""
