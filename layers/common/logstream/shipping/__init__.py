"""Shipping: events in, documents delivered or parked with their reason, never lost.

``payload`` decodes a subscription payload; ``documents`` turns events into
bulk lines in one pass (``lambda_lines`` parses Lambda's own lines); ``bulk``
delivers them with per-item outcomes; ``parking`` and ``quarantine`` keep what
the cluster refuses; ``checkpoints`` are the live path's acknowledged
watermarks; ``service`` is the Shipper every path uses, ``live`` the decoder's
payload path around it; ``report`` says what a call did.
"""
