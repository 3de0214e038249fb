"""Deployments: online serving with prediction capture, champion/challenger, rollout, batch scoring."""
