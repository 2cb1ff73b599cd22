"""Hand-written calibration (dev) tickets: never trained on; confidence is fitted on them
(connector.classify.train)."""
