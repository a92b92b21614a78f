"""Fleet scale: which log groups logstream ships, and the subscriber that subscribes them."""
