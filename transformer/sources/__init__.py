"""Sources fill the store: a snapshot directory, or (later) a live PIM over its REST API."""
