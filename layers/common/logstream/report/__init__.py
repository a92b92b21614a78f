"""The completeness report: what reconciliation proved per log group and day, and
what sits in quarantine, as a ledger (``ledger``), read from the state table and
the cluster (``sources``) and drawn as one self-contained HTML page (``html``)."""
