"""Domain events: the outbox that carries what families should hear about to the worker."""
