"""Governance: risk-tier policies, promotion requests, reviews, and the gate on protected aliases."""
