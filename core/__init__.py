"""Loket's domain: models, services, access rules, events, storage and the checklist walker.

Nothing in here knows about a channel: core never imports web, mailbridge, bot or loket.
"""
