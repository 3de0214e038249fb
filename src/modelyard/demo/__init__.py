"""The credit-risk demo behind ``modelyard demo``: synthetic data, models, tracking, a server."""
