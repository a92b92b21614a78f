"""Retention: delete this deployment's daily indices once they are older than RETENTION_DAYS.

``expiry`` decides (pure), ``janitor`` lists, checks ownership and deletes,
``shards`` publishes the shard budget, ``request`` answers the function's events.
"""
