"""Request handlers, one module per area. Each translates a request into core calls and back."""
