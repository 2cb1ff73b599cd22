"""Hand-written training tickets (package data; read by connector.classify.train)."""
