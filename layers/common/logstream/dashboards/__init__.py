"""OpenSearch Dashboards objects for logstream's indices: built per index prefix
(``saved_objects``) and imported through the Dashboards API (``install``)."""
