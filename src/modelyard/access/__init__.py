"""Access control: project roles, memberships, and what each role may do."""
