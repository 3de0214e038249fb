"""Identity: users, service accounts, API tokens, sign-in and the first-admin bootstrap."""
