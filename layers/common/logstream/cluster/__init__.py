"""The cluster seam: ``port`` says what logstream asks of a search engine and what each
engine can do; one adapter per engine implements it. Only this package imports a
search engine's client library."""
